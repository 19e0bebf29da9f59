"""The student (training.student) on a tiny pair cache: real VGG16, the shipped generator as its
start, a run that resumes, learns its teacher, and is scored by the evaluation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from portrait.align import align_face
from portrait.detect import FaceDetector
from portrait.styles import STYLES, WEIGHTS, load_generator, read_metadata
from tests import tiny_data
from training import evaluate, fetch_vgg, student

SIZE = 64


@pytest.fixture(scope="module")
def vgg_path() -> str:
    return str(fetch_vgg.fetch())


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """``training.pairs``' layout: pairs.tsv and style/<face>.{photo,portrait}.png. The "teacher"
    is a sepia toning with a dark border (something a generator can learn in a few steps); one row
    was rejected, as the teacher's verdict rejects portraits that lost the sitter."""
    faces, _ = tiny_data.make(tmp_path_factory.mktemp("tiny"))
    folder = tmp_path_factory.mktemp("pairs")
    detector = FaceDetector()
    rows = []
    for master, path in zip(("x", "y"), sorted(faces.glob("*.jpg"))[:2], strict=True):
        image = Image.open(path).convert("RGB")
        aligned, _ = align_face(image, detector(image)[0].landmarks, SIZE)
        taught = ImageOps.colorize(ImageOps.grayscale(Image.fromarray(aligned)), "#2b1a0e", "#f2e3c6")
        taught = ImageOps.expand(taught.crop((4, 4, SIZE - 4, SIZE - 4)), 4, fill="#2b1a0e")
        for style in STYLES:
            (folder / style).mkdir(exist_ok=True)
            Image.fromarray(aligned).save(folder / style / f"{path.stem}.photo.png")
            taught.save(folder / style / f"{path.stem}.portrait.png")
            rows.append({"face": path.name, "style": style, "master": master, "kept": 1, "reason": "kept",
                         "distance": 0.3, "skin_shift": 0.0})
    rows.append({"face": "lost.jpg", "style": "oil", "master": "x", "kept": 0, "reason": "face lost",
                 "distance": "", "skin_shift": ""})
    with open(folder / "pairs.tsv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_only_kept_pairs_are_read(cache: Path) -> None:
    pairs = student.read_pairs(cache)
    assert len(pairs) == 2 * len(STYLES) and all(p.photo.is_file() and p.portrait.is_file() for p in pairs)
    assert "lost" not in {p.photo.stem.split(".")[0] for p in pairs}
    after_x = student.read_pairs(cache, ("x",))  # the first face was painted after master x
    assert len(after_x) == len(STYLES) and {p.photo.name for p in after_x} == {pairs[0].photo.name}
    assert student.read_pairs(cache, ("x", "y")) == pairs


def test_a_master_no_pair_was_painted_after_is_refused(cache: Path, vgg_path: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="oil/another.jpg"):
        student.main(["--pairs", str(cache), "--vgg", vgg_path, "--cache", str(tmp_path / "c"),
                      "--out", str(tmp_path / "s.safetensors"), "--masters", "x", "oil/another.jpg"])


def l1_to_teacher(weights: Path, cache: Path) -> float:
    pairs = student.read_pairs(cache)
    photo, painting, names = student.batch(pairs, np.random.default_rng(1), SIZE)
    generator = load_generator(weights)
    with torch.no_grad():
        return float((generator(photo, generator.one_hot(names)) - painting).abs().mean())


def test_two_steps_resume_and_learn_the_teacher(cache: Path, vgg_path: str, tmp_path: Path) -> None:
    out, state = tmp_path / "student.safetensors", tmp_path / "cache"
    common = ["--pairs", str(cache), "--vgg", vgg_path, "--cache", str(state), "--out", str(out),
              "--size", str(SIZE), "--batch", "2", "--lr", "1e-3", "--threads", "2"]
    student.main([*common, "--steps", "2"])
    info = read_metadata(out)["info"]
    assert info["steps"] == 2 and info["recipe"] == "training.student" and info["pairs"] == 2 * len(STYLES)
    assert info["from"] == WEIGHTS.name
    student.main([*common, "--steps", "12"])  # resumes at step 2
    assert read_metadata(out)["info"]["steps"] == 12
    with open(state / "student_log.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == list(range(1, 13))
    assert load_generator(out).config == load_generator(WEIGHTS).config  # the app runs it unchanged
    assert l1_to_teacher(out, cache) < 0.8 * l1_to_teacher(WEIGHTS, cache)
    assert (state / "preview.png").stat().st_size > 1_000
    # the resumed run is the run: the same weights as 12 steps in one go
    straight = tmp_path / "straight.safetensors"
    student.main([*common[:5], str(tmp_path / "straight"), "--out", str(straight), *common[8:],
                  "--steps", "12"])
    for name, weight in load_generator(straight).state_dict().items():
        torch.testing.assert_close(weight, load_generator(out).state_dict()[name], rtol=0, atol=2e-3)


def test_the_student_is_scored_by_the_evaluation(cache: Path, vgg_path: str, tmp_path: Path) -> None:
    out = tmp_path / "student.safetensors"
    student.main(["--pairs", str(cache), "--vgg", vgg_path, "--cache", str(tmp_path / "cache"),
                  "--out", str(out), "--size", str(SIZE), "--batch", "2", "--steps", "1"])
    faces, _ = tiny_data.make(tmp_path / "tiny")
    evaluate.main(["--faces", str(faces), "--out", str(tmp_path / "eval"), "--weights", str(out),
                   "--limit", "2", "--size", "256", "--all"])
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["weights"]["recipe"] == "training.student" and set(result["identity"]) == set(STYLES)


def test_a_batch_flips_photo_and_painting_together(cache: Path) -> None:
    pairs = student.read_pairs(cache)[:1] * 16
    photo, painting, names = student.batch(pairs, np.random.default_rng(0), SIZE)
    assert photo.shape == painting.shape == (16, 3, SIZE, SIZE) and names == [pairs[0].style] * 16
    flipped = [not torch.equal(photo[i], photo[0]) for i in range(16)]
    assert any(flipped) and not all(flipped)
    for i in range(16):
        assert torch.equal(painting[i], painting[0]) != flipped[i]
