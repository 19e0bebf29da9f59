"""A tiny training/evaluation data set built from images that ship inside scikit-image.

Same layout as ``../shared/data``: ``faces/`` and ``paintings/<style>/`` with MANIFEST.tsv files.
The "paintings" are the package's real images pushed through simple painterly filters; they only
have to exercise the code paths, not teach anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from skimage import data


def _faces(astronaut: Image.Image) -> list[tuple[str, Image.Image]]:
    return [
        ("utk_00001.jpg", astronaut),
        ("aaf_00002.jpg", astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        ("gdf_00003.jpg", astronaut.crop((100, 0, 400, 330)).resize((256, 282))),
        ("pkg_00004.jpg", ImageOps.autocontrast(astronaut.rotate(8, resample=Image.BILINEAR))),
        ("fmd_00005.jpg", astronaut.crop((60, 0, 460, 400))),
    ]


def _paintings(astronaut: Image.Image) -> list[tuple[str, str, Image.Image]]:
    coffee, chelsea = Image.fromarray(data.coffee()), Image.fromarray(data.chelsea())
    oil = astronaut.filter(ImageFilter.ModeFilter(7)).filter(ImageFilter.SMOOTH_MORE)
    ink = ImageOps.grayscale(astronaut).filter(ImageFilter.FIND_EDGES)
    return [
        ("oil", "yes", ImageOps.posterize(oil, 3)),
        ("oil", "no", coffee.filter(ImageFilter.ModeFilter(9))),
        ("watercolor", "no", chelsea.filter(ImageFilter.GaussianBlur(3))),
        ("watercolor", "yes", astronaut.filter(ImageFilter.GaussianBlur(2))),
        ("ink", "yes", ImageOps.invert(ink).convert("RGB")),
        ("ink", "no", ImageOps.grayscale(coffee).filter(ImageFilter.CONTOUR).convert("RGB")),
    ]


def make(root: Path) -> tuple[Path, Path]:
    """Write the tiny set under ``root``; returns (faces folder, paintings folder)."""
    astronaut = Image.fromarray(data.astronaut())
    faces, paintings = root / "faces", root / "paintings"
    faces.mkdir(parents=True)
    rows = ["file\tsource\tdataset_if_known\tlicence_note"]
    for name, image in _faces(astronaut):
        image.save(faces / name, quality=90)
        rows.append(f"{name}\tskimage.data\tscikit-image\tpublic domain (NASA)")
    (faces / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    rows = ["file\tstyle\tportrait\tsource\tartist_or_title\tlicence_note"]
    for i, (style, portrait, image) in enumerate(_paintings(astronaut)):
        (paintings / style).mkdir(parents=True, exist_ok=True)
        name = f"{style}/synthetic_{i}.jpg"
        image.save(paintings / name, quality=90)
        rows.append(f"{name}\t{style}\t{portrait}\tskimage.data#{i}\tfiltered test image\tpublic domain")
    (paintings / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    assert np.asarray(Image.open(faces / "utk_00001.jpg")).shape[2] == 3
    return faces, paintings
