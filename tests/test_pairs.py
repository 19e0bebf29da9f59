"""Pair making with the real teacher (the painter after masters), MTCNN and dlib, on tiny data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from portrait.align import align_face, coverage
from portrait.colour import lab_to_rgb, rgb_to_lab
from portrait.detect import FaceDetector
from tests import tiny_data
from training import data, pairs
from training.metrics import IdentityModel


@pytest.fixture(scope="module")
def judges() -> tuple[FaceDetector, IdentityModel]:
    return FaceDetector(), IdentityModel()


@pytest.fixture(scope="module")
def framed(astronaut: Image.Image, judges) -> tuple[np.ndarray, np.ndarray]:
    aligned, alignment = align_face(astronaut, judges[0](astronaut)[0].landmarks, 512)
    return aligned, coverage(alignment, astronaut.size)


@pytest.fixture(scope="module")
def teacher(painter):
    from portrait.masters import MasterPainter

    return MasterPainter(painter)


def test_the_teachers_portrait_is_kept(framed, judges, teacher) -> None:
    aligned, seen = framed
    painted = teacher.paint(aligned, "oil", seen=seen).painted
    judged = pairs.verdict(*judges, aligned, painted)
    assert judged.kept and judged.reason == "kept" and judged.distance < 0.6 and abs(judged.skin_shift) < 6


@pytest.mark.parametrize("style", ["oil", "watercolor", "ink"])
def test_the_sitters_skin_tone_is_kept_after_portraits_and_medium_exemplars(framed, judges, teacher,
                                                                             style: str) -> None:
    """The photo as it is and darkened to a deep skin tone, painted after the style's best-suited
    master and its least (a medium exemplar, a wash or an engraving with no face of its own, where
    the style has one): the cheeks' lightness stays within 5 L* of the photo's, whatever the
    master's own skin or paper."""
    aligned, seen = framed
    lab = rgb_to_lab(aligned)
    lab[..., 0] *= 0.55
    lab[..., 1:] *= 0.8
    for photo in (aligned, lab_to_rgb(lab)):
        for rank in (0, -1):
            judged = pairs.verdict(*judges, photo, teacher.paint(photo, style, rank, seen=seen).painted)
            assert judged.reason != "face lost" and abs(judged.skin_shift) < 5, (style, rank, judged)


def test_a_portrait_that_lost_the_face_is_rejected(framed, judges) -> None:
    aligned, _ = framed
    flat = np.full_like(aligned, 128)
    assert pairs.verdict(*judges, aligned, flat) == pairs.Verdict(False, "face lost")


def test_a_portrait_that_darkened_the_skin_is_rejected(framed, judges) -> None:
    aligned, _ = framed
    lab = rgb_to_lab(aligned)
    lab[..., 0] -= 15
    judged = pairs.verdict(*judges, aligned, lab_to_rgb(lab))
    assert not judged.kept and judged.reason == "skin tone moved" and judged.skin_shift < -10


def test_faces_are_painted_in_an_order_that_mixes_the_sources() -> None:
    """Any first part of a run holds every source (and so every kind of sitter), the same order
    on every machine whatever the folder listing's order."""
    names = [Path(f"{source}_{i:05d}.jpg") for source in ("aaf", "fmd", "gdf", "utk") for i in range(100)]
    first = pairs.painting_order(names)[:20]
    assert {path.name[:3] for path in first} == {"aaf", "fmd", "gdf", "utk"}
    assert pairs.painting_order(names[::-1]) == pairs.painting_order(names)


def test_pairs_are_made_recorded_and_resumed(tmp_path: Path) -> None:
    """A run goes on from the table an earlier one left (here: the first face, recorded as
    unreadable), paints the next face in every style and keeps what the teacher kept."""
    faces, _ = tiny_data.make(tmp_path / "tiny")
    ordered = pairs.painting_order(list(faces.glob("*.jpg")))
    training_faces = [f.name for f in ordered if not data.held_out(f.name)]
    out = tmp_path / "pairs"
    out.mkdir()
    earlier = [dict(face=training_faces[0], style=style, master="", kept=0, reason="unreadable")
               for style in ("oil", "watercolor", "ink")]
    with open(out / "pairs.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, pairs.FIELDS, delimiter="\t")
        writer.writeheader()
        writer.writerows(earlier)
    pairs.main(["--faces", str(faces), "--out", str(out), "--limit", "1", "--workers", "1", "--size", "128"])
    with open(out / "pairs.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [row["face"] for row in rows] == [training_faces[0]] * 3 + [training_faces[1]] * 3
    assert {row["style"] for row in rows[3:]} == {"oil", "watercolor", "ink"}
    for row in rows[3:]:
        assert row["master"].startswith(row["style"] + "/")
        stem = Path(row["face"]).stem
        stored = [out / row["style"] / f"{stem}.{kind}.png" for kind in ("photo", "portrait")]
        assert all(path.exists() for path in stored) == (row["kept"] == "1"), row
        if row["kept"] == "1":
            assert Image.open(stored[1]).size == (128, 128)
    assert not list(out.glob(f"*/{Path(training_faces[0]).stem}.*")), "a face already recorded was painted"


def test_a_face_facemesh_cannot_read_is_painted_after_a_medium_exemplar_in_its_own_light(
        framed, judges, teacher, monkeypatch) -> None:
    """MTCNN found the face but FaceMesh did not (a tiny, blurred crop): no mesh, so no portrait
    master's face can be aligned to it; a medium exemplar paints it by appearance, and the
    painting keeps the photo's light (matched to the master's tones, a pale face went dark grey and
    was no longer found)."""
    aligned, seen = framed
    monkeypatch.setattr(teacher, "guide_maker", lambda frame: None)
    for style in ("watercolor", "ink"):
        painting = teacher.paint(aligned, style, seen=seen)
        judged = pairs.verdict(*judges, aligned, painting.painted)
        assert painting.master.kind == "medium" and judged.reason != "face lost", (style, judged)
        assert abs(judged.skin_shift) < 5, (style, judged)
