"""Make (photo → portrait) pairs with the painter after masters: the teacher of the fast generator.

    python -m training.pairs --faces ../shared/data/faces --out ~/.cache/portrait-studio/pairs \
        [--size 256] [--masters 3] [--workers 2] [--limit N]

Every training face (the held-out tenth is never painted) is aligned as the app aligns it and
painted in each style after one of the style's ``--masters`` best-suited masters (which one
follows from the face's name, so the pairs spread over the library and a rerun picks the same).
A pair is kept only when the teacher kept the sitter (:func:`verdict`): MTCNN still finds the
face, dlib calls it the same person, and the cheek lightness moved by at most
:data:`MAX_SKIN_SHIFT` L*. ``pairs.tsv`` records every face and style, kept or not and why, with
the master's file; a rerun skips what it records, so a stopped run resumes. Pairs are written as
PNG files under ``--out`` (outside the repository: they are derived from face photos).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from training import data

MAX_SKIN_SHIFT = 6.0
FIELDS = ("face", "style", "master", "kept", "reason", "distance", "skin_shift")


@dataclass(frozen=True)
class Verdict:
    kept: bool
    reason: str  #: "kept", "no face in the photo", "face lost", "another person", "skin tone moved"
    distance: float = float("nan")
    skin_shift: float = float("nan")


def verdict(detector, identity, photo: np.ndarray, portrait: np.ndarray) -> Verdict:
    """Whether ``portrait`` keeps the sitter of ``photo`` (both the same aligned frame)."""
    from portrait.align import portrait_template
    from portrait.detect import nearest_face
    from training import metrics

    found = detector(Image.fromarray(photo))
    if not found:
        return Verdict(False, "no face in the photo")
    face = nearest_face(found, portrait_template(photo.shape[0]).mean(0))
    painted = detector(Image.fromarray(portrait))
    if not painted:
        return Verdict(False, "face lost")
    match = nearest_face(painted, face.landmarks.mean(0))
    distance = float(np.linalg.norm(identity.descriptor(photo, face) - identity.descriptor(portrait, match)))
    shift = metrics.skin_patch_lab(portrait, face)[0] - metrics.skin_patch_lab(photo, face)[0]
    if distance >= metrics.SAME_PERSON:
        return Verdict(False, "another person", distance, shift)
    if abs(shift) > MAX_SKIN_SHIFT:
        return Verdict(False, "skin tone moved", distance, shift)
    return Verdict(True, "kept", distance, shift)


def choice(name: str, masters: int) -> int:
    """Which of the best-suited masters paints this face: stable across runs and machines."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % max(1, masters)


_WORKER: dict = {}


def _start(size: int, masters: int, out: Path) -> None:
    """Each worker process builds its own painters once (MTCNN, the library, dlib)."""
    from portrait.masters import MasterPainter
    from portrait.pipeline import Painter
    from training.metrics import IdentityModel

    painter = Painter(threads=1, bf16=False)
    detector = painter.detector
    _WORKER.update(detector=detector, masters=MasterPainter(painter), identity=IdentityModel(),
                   size=size, count=masters, out=out)


def _paint(path: Path) -> list[dict]:
    """All styles of one face: the rows for pairs.tsv (and the kept pairs written)."""
    from portrait.align import align_face, coverage
    from portrait.inputs import InputError, load_image

    w = _WORKER

    def failed(reason: str) -> list[dict]:
        return [dict(face=path.name, style=s, master="", kept=0, reason=reason) for s in w["masters"].styles]

    try:
        image = load_image(path)
    except InputError:
        return failed("unreadable")
    faces = w["detector"](image)
    if not faces:
        return failed("no face in the photo")
    aligned, alignment = align_face(image, faces[0].landmarks, 512)
    seen = coverage(alignment, image.size)
    rows = []
    for style in w["masters"].styles:
        painting = w["masters"].paint(aligned, style, choice(path.name, w["count"]), seen=seen,
                                       zoom=alignment.zoom)
        judged = verdict(w["detector"], w["identity"], aligned, painting.painted)
        if judged.kept:
            folder = w["out"] / style
            folder.mkdir(parents=True, exist_ok=True)
            for image_, suffix in ((aligned, "photo"), (painting.painted, "portrait")):
                small = Image.fromarray(image_).resize((w["size"], w["size"]), Image.Resampling.LANCZOS)
                small.save(folder / f"{path.stem}.{suffix}.png")
        rows.append(dict(face=path.name, style=style, master=painting.master.file, kept=int(judged.kept),
                         reason=judged.reason, distance=round(judged.distance, 4),
                         skin_shift=round(judged.skin_shift, 2)))
    return rows


def painting_order(paths: list[Path]) -> list[Path]:
    """The order faces are painted in: a stable shuffle (by a hash of the name), so that a run
    stopped early holds a sample of every source and skin tone. In name order the first 209 faces
    were all All-Age-Faces (East Asian sitters), and a student taught from them kept lightening
    dark skin as much as before."""
    return sorted(paths, key=lambda path: hashlib.sha1(path.name.encode()).hexdigest())


def done(table: Path) -> set[str]:
    if not table.exists():
        return set()
    with open(table, newline="", encoding="utf-8") as handle:
        return {row["face"] for row in csv.DictReader(handle, delimiter="\t")}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the pair cache (outside the repository)")
    p.add_argument("--size", type=int, default=256, help="side of the stored pairs")
    p.add_argument("--masters", type=int, default=3, help="best-suited masters to spread a style over")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--limit", type=int, default=0, help="faces to paint in this run (0: all)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "pairs.tsv"
    skip = done(table)
    photos = [f for f in args.faces.iterdir() if f.suffix.lower() in {".jpg", ".jpeg", ".png"}]
    todo = [f for f in painting_order(photos) if not data.held_out(f.name) and f.name not in skip]
    todo = todo[: args.limit] if args.limit else todo
    new = not table.exists()
    # Workers are spawned, not forked: a fork of a process whose MediaPipe, numba or OpenMP threads
    # are running can hang or die in the child.
    spawn = multiprocessing.get_context("spawn")
    with open(table, "a", newline="", encoding="utf-8") as handle, \
            ProcessPoolExecutor(args.workers, spawn, _start, (args.size, args.masters, args.out)) as pool:
        writer = csv.DictWriter(handle, FIELDS, delimiter="\t")
        if new:
            writer.writeheader()
        for rows in tqdm(pool.map(_paint, todo), total=len(todo), desc="pairs", unit="face"):
            writer.writerows(rows)
            handle.flush()
    report(table)


def report(table: Path) -> None:
    """Kept pairs per style, and why the others were not."""
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for style in sorted({row["style"] for row in rows}):
        mine = [row for row in rows if row["style"] == style]
        kept = sum(int(row["kept"]) for row in mine)
        reasons = Counter(row["reason"] for row in mine if not int(row["kept"]))
        print(f"{style}: {kept} of {len(mine)} kept; rejected: {dict(reasons)}")


if __name__ == "__main__":
    main()
