"""Training data: faces and paintings aligned with the app's own detector and template.

``prepare`` runs once and caches uint8 arrays outside the repository. Both photos and painted
portraits go through :class:`portrait.detect.FaceDetector` and :func:`portrait.align.align_face`,
so the generator trains on exactly the framing it serves. Every painting also stays available
whole (long side ≤ 512) for random texture crops, which is how the mostly non-portrait
watercolor and ink sets teach their medium. A fixed held-out part of each set is chosen by a hash
of the file name (faces) or of the source painting (paintings, so a face crop never lands on the
other side from the painting it was cut from).
"""

from __future__ import annotations

import csv
import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from portrait.align import align_face
from portrait.detect import FaceDetector
from portrait.inputs import InputError, load_image

#: Side of the cached aligned images; training crops are taken from rescaled copies of these.
ALIGNED_SIDE = 384
TEXTURE_SIDE = 512
HELD_OUT_PERCENT = 10
#: Licence notes that keep a painting out of published weights.
EXCLUDED_LICENCES = ("unknown: modern", "copyright", "modern artwork")


def to_tensor(images: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 → float N×3×H×W in [-1, 1], the generator's and VGG wrapper's range."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def held_out(key: str) -> bool:
    """Stable split: the same key is always on the same side, on every machine."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 100 < HELD_OUT_PERCENT


@dataclass
class StyleSet:
    """One style's paintings: aligned painted faces and whole paintings for texture crops."""

    faces: list[np.ndarray] = field(default_factory=list)
    textures: list[np.ndarray] = field(default_factory=list)


@dataclass
class Dataset:
    faces: np.ndarray  #: N×S×S×3 uint8 aligned photos
    face_names: list[str]
    styles: dict[str, StyleSet]


def manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "MANIFEST.tsv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def usable_painting(row: dict[str, str]) -> bool:
    """Publishable works only; colour woodblock prints are not the ink medium we teach."""
    licence = row.get("licence_note", "").lower()
    if any(word in licence for word in EXCLUDED_LICENCES):
        return False
    return not (row["style"] == "ink" and "colour woodblock" in row.get("artist_or_title", ""))


def _aligned(detector: FaceDetector, image: Image.Image) -> list[np.ndarray]:
    return [align_face(image, face.landmarks, ALIGNED_SIDE)[0] for face in detector(image)]


def prepare(faces_dir: Path, paintings_dir: Path, cache: Path, split: str) -> Dataset:
    """Aligned faces and style sets for ``split`` ('train' or 'eval'), cached in ``cache``."""
    # Keyed on the manifests and the frame size: other data never reuses a stale cache.
    key = "-".join([*provenance(faces_dir, paintings_dir).values(), str(ALIGNED_SIDE)])
    path = cache / f"dataset_{split}_{key}.pkl"
    if path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    cache.mkdir(parents=True, exist_ok=True)
    detector = FaceDetector()
    datasets = {name: Dataset(np.zeros(0), [], {}) for name in ("train", "eval")}
    face_lists: dict[str, list[np.ndarray]] = {"train": [], "eval": []}
    for row in tqdm(manifest(faces_dir), desc="faces"):
        side = "eval" if held_out(row["file"]) else "train"
        try:
            image = load_image(faces_dir / row["file"])
        except InputError:
            continue
        found = detector(image)
        if found:  # the largest face, as the app paints by default
            face_lists[side].append(align_face(image, found[0].landmarks, ALIGNED_SIDE)[0])
            datasets[side].face_names.append(row["file"])
    for row in tqdm(manifest(paintings_dir), desc="paintings"):
        if not usable_painting(row):
            continue
        side = "eval" if held_out(row["source"]) else "train"
        try:
            image = load_image(paintings_dir / row["file"])
        except InputError:
            continue
        style = datasets[side].styles.setdefault(row["style"], StyleSet())
        if row.get("portrait") == "yes":
            style.faces.extend(_aligned(detector, image))
        texture = image.copy()
        texture.thumbnail((TEXTURE_SIDE, TEXTURE_SIDE), Image.Resampling.LANCZOS)
        style.textures.append(np.asarray(texture))
    for name, dataset in datasets.items():
        dataset.faces = np.stack(face_lists[name]) if face_lists[name] else np.zeros(
            (0, ALIGNED_SIDE, ALIGNED_SIDE, 3), np.uint8)
        with open(cache / f"dataset_{name}_{key}.pkl", "wb") as handle:
            pickle.dump(dataset, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return datasets[split]


def provenance(faces_dir: Path, paintings_dir: Path) -> dict[str, str]:
    """Hashes of both manifests, so a weights file says which data made it."""
    return {f"{name}_manifest_sha1": hashlib.sha1((folder / "MANIFEST.tsv").read_bytes()).hexdigest()[:12]
            for name, folder in (("faces", faces_dir), ("paintings", paintings_dir))}
