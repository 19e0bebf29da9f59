"""The style registry, and reading/writing the generator's weights file.

One safetensors file holds the generator for every style (fp16) and, in its metadata, the
architecture, the styles it was trained on and how it was made. The app offers exactly the
styles that file was trained for: no weights, no style.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from portrait.model import Generator

#: Style name → what the visitor is told about it. Order is the order of the selector.
STYLES = ("oil", "watercolor", "ink")
DESCRIPTIONS = {
    "oil": "Oil on canvas: old-master palette, warm shadows, visible brushwork.",
    "watercolor": "Watercolor: soft washes of pigment on white paper.",
    "ink": "Ink: pen line and hatching in a limited palette, like an etching.",
}
WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "portrait.safetensors"


def save_generator(generator: Generator, path: Path, info: dict) -> None:
    """Write fp16 weights plus metadata (architecture, styles, provenance) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in generator.state_dict().items()}
    meta = {"styles": json.dumps(generator.styles), "config": json.dumps(generator.config),
            "info": json.dumps(info)}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def read_metadata(path: Path = WEIGHTS) -> dict:
    """The weights file's metadata, decoded (styles, config, info)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {k: json.loads(v) for k, v in handle.metadata().items()}


def load_generator(path: Path = WEIGHTS) -> Generator:
    """The trained generator in fp32 eval mode. Raises FileNotFoundError when nothing is trained."""
    if not path.is_file():
        raise FileNotFoundError(f"no trained generator at {path}; train one with training/train.py "
                                "(docs/training.md)")
    meta = read_metadata(path)
    generator = Generator(meta["styles"], **meta["config"])
    generator.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return generator.eval().requires_grad_(False)


def available_styles(generator: Generator) -> list[str]:
    """Styles the loaded weights were trained for, in selector order."""
    return [name for name in STYLES if name in generator.styles]
