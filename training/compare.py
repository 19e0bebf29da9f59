"""Ablation sheets: the same held-out faces painted by several weights files, side by side.

    python -m training.compare --faces ../shared/data/faces --out ablation.png \
        --weights gram_only.safetensors weights/portrait.safetensors

Rows are faces (the held-out part of a manifest'ed folder, photos that fill the frame first);
for each style, one column per weights file in the order given, so a recipe change is judged by
eye on exactly the same people. The labels strip on top names the columns.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from portrait.align import align_face
from portrait.inputs import InputError, load_image
from portrait.pipeline import Painter
from training.evaluate import THUMB, face_files, square
from training.sheets import grid
from training.train import photo_coverage


def label_strip(labels: list[str], size: int = THUMB) -> np.ndarray:
    """A white band with one caption per column."""
    strip = Image.new("RGB", (size * len(labels), 28), "white")
    draw = ImageDraw.Draw(strip)
    for i, text in enumerate(labels):
        draw.text((i * size + 6, 8), text[: size // 7], fill="black")
    return np.asarray(strip)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", type=Path, nargs="+", required=True)
    p.add_argument("--names", nargs="*", help="a short name per weights file (default: file stems)")
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--all", action="store_true", help="every photo, not only the held-out part")
    args = p.parse_args(argv)
    names = args.names or [w.stem for w in args.weights]
    painters = [Painter(w, size=args.size, threads=2) for w in args.weights]
    aligned = []
    for path in face_files(args.faces, 0, args.all):
        try:
            image = load_image(path)
        except InputError:
            continue
        faces = painters[0].detector(image)
        if faces:
            aligned.append(align_face(image, faces[0].landmarks, args.size)[0])
    if not aligned:
        raise SystemExit(f"no faces found in {args.faces}")
    # Frames the photo fills first (what the app serves), then evenly through the rest.
    order = np.argsort(-photo_coverage(np.stack(aligned)), kind="stable")
    picked = [aligned[i] for i in order[: max(args.rows, len(order) // 2)]]
    picked = picked[:: max(1, len(picked) // args.rows)][: args.rows]
    styles = painters[0].styles
    labels = ["photo", *(f"{s}: {n}" for s in styles for n in names)]
    rows = [[square(photo), *(square(painter.paint(photo, s)) for s in styles for painter in painters)]
            for photo in picked]
    sheet = np.concatenate([label_strip(labels), np.asarray(grid(rows))], axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f"wrote {args.out}: {len(rows)} faces × {len(labels)} columns")


if __name__ == "__main__":
    main()
