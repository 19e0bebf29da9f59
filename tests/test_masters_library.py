"""The library of masters (``weights/masters``): only what the manifest lists, each public domain,
small enough to ship, and every portrait's face large enough for the app's 512² bust frame."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.masters_library import COLUMNS, KINDS, LONG_SIDE, MIN_EYES, STYLES

LIBRARY = Path(__file__).resolve().parent.parent / "weights" / "masters"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(LIBRARY / "MANIFEST.tsv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def test_every_row_is_a_small_public_domain_file_in_its_style_folder(rows: list[dict[str, str]]) -> None:
    for row in rows:
        path = LIBRARY / row["file"]
        assert path.is_file(), row["file"]
        assert row["style"] in STYLES and row["kind"] in KINDS, row["file"]
        assert Path(row["file"]).parts[0] == row["style"], row["file"]
        assert row["public_domain"].strip(), row["file"]
        assert "unknown" not in row["public_domain"].lower(), row["file"]
        assert row["artist"].strip() and row["title"].strip() and row["medium"].strip(), row["file"]
        with Image.open(path) as image:
            assert max(image.size) <= LONG_SIDE, row["file"]


def test_at_least_twelve_masters_per_style(rows: list[dict[str, str]]) -> None:
    for style in STYLES:
        assert sum(row["style"] == style for row in rows) >= 12, style


def test_no_file_in_the_library_is_missing_from_the_manifest(rows: list[dict[str, str]]) -> None:
    listed = {row["file"] for row in rows}
    assert len(listed) == len(rows)
    on_disk = {p.relative_to(LIBRARY).as_posix() for p in LIBRARY.rglob("*") if p.is_file()}
    assert on_disk - {"MANIFEST.tsv"} == listed


def test_every_portrait_has_a_large_face_the_app_finds(rows: list[dict[str, str]]) -> None:
    """The app's own MTCNN detector (its score threshold too), on the committed file."""
    from portrait.detect import FaceDetector

    detector = FaceDetector()
    faces_needed = [row for row in rows if row["kind"] != "medium"]
    assert faces_needed
    for row in faces_needed:
        assert int(row["eyes_px"]) >= MIN_EYES, row["file"]
        with Image.open(LIBRARY / row["file"]) as image:
            faces = detector(image.convert("RGB"))
        assert faces, row["file"]
        eyes = faces[0].landmarks[1] - faces[0].landmarks[0]
        assert float(np.linalg.norm(eyes)) >= MIN_EYES, row["file"]
