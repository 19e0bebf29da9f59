"""The sitter classifier: the shipped weights, on a real face, in the app's own frame."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from portrait.align import align_face, alignment_for, warp
from portrait.detect import FaceDetector
from portrait.sitter import AGE_GROUPS, INPUT_SIDE, WEIGHTS, SitterModel, age_group, face_crop


@pytest.fixture(scope="module")
def model() -> SitterModel:
    return SitterModel.load()


@pytest.fixture(scope="module")
def frame(astronaut) -> np.ndarray:
    """The astronaut (Eileen Collins, a woman in her forties) in the app's 512² bust frame."""
    face = FaceDetector()(astronaut)[0]
    return align_face(astronaut, face.landmarks, 512)[0]


def test_age_groups_have_the_stated_bounds() -> None:
    assert [age_group(a) for a in (0, 12, 13, 29, 30, 54, 55, 90)] == [
        "child", "child", "young", "young", "adult", "adult", "old", "old"]


def test_weights_are_small_fp16_and_say_how_good_they_are(model: SitterModel) -> None:
    assert WEIGHTS.stat().st_size < 1_000_000
    assert all(p.dtype == torch.float32 for p in model.net.parameters())  # fp16 on disk, fp32 in use
    held = model.info["held_out_accuracy"]
    assert held["n"] > 100 and 0.5 < held["sex"] <= 1 and 0.25 < held["age_group"] <= 1
    assert {"White", "Black", "Asian", "Indian"} <= set(held["per_group"])
    assert model.info["trained"] and model.info["training_data"]["sources"]


def test_the_astronaut_is_a_woman_of_working_age(model: SitterModel, frame: np.ndarray) -> None:
    sitter = model(frame)
    assert sitter.sex == "f" and sitter.p_female > 0.5
    assert sitter.age in ("young", "adult")
    assert set(sitter.age_probs) == set(AGE_GROUPS)
    assert sum(sitter.age_probs.values()) == pytest.approx(1, abs=1e-5)


def test_crop_and_answer_are_deterministic(model: SitterModel, frame: np.ndarray) -> None:
    crop = face_crop(frame)
    assert crop.shape == (INPUT_SIDE, INPUT_SIDE, 3) and crop.dtype == np.uint8
    assert np.array_equal(crop, face_crop(frame.copy()))
    assert model(frame) == model(frame.copy())


def test_crop_reads_any_square_frame_at_the_same_place(frame: np.ndarray) -> None:
    half = np.asarray(Image.fromarray(frame).resize((256, 256), Image.Resampling.LANCZOS))
    assert np.abs(face_crop(half).astype(int) - face_crop(frame)).mean() < 6
    with pytest.raises(ValueError):
        face_crop(frame[:, :400])


def test_crop_reads_a_closer_frame_at_a_busts_scale(astronaut) -> None:
    """A frame brought 1.8 or 2.4 times closer (a tight crop's), read with its zoom, shows the
    network the same face square as the bust frame does (at 2.4 the square reaches past the
    frame, whose edge is repeated)."""
    landmarks = FaceDetector()(astronaut)[0].landmarks
    bust = face_crop(warp(astronaut, alignment_for(landmarks, 512))).astype(int)
    for zoom, tolerance in ((1.8, 2), (2.4, 4)):
        closer = warp(astronaut, alignment_for(landmarks, 512, zoom))
        assert np.abs(face_crop(closer, zoom=zoom) - bust).mean() < tolerance
        assert np.abs(face_crop(closer) - bust).mean() > 20  # read as a bust, it is another square


def test_fast_on_two_threads(model: SitterModel, frame: np.ndarray) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model(frame)  # first call: allocator and kernel selection
        times = []
        for _ in range(10):
            start = time.perf_counter()
            model(frame)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    assert float(np.median(times)) < 0.020
