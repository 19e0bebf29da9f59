"""Alignment geometry on synthetic landmarks: exact, upright, framed as a bust, never black."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from portrait.align import (
    CLOSEST,
    EYE_LINE,
    FILLED,
    align_face,
    alignment_for,
    apply,
    coverage,
    framing,
    invert,
    portrait_template,
    umeyama,
)


def similarity(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, shift[0]], [scale * s, scale * c, shift[1]]])


@pytest.mark.parametrize("angle", [-1.2, -0.3, 0.0, 0.4, 2.5])
@pytest.mark.parametrize("scale", [0.2, 1.0, 3.7])
def test_umeyama_recovers_a_known_similarity(angle: float, scale: float) -> None:
    src = portrait_template(512)
    truth = similarity(angle, scale, (40.0, -13.0))
    estimate = umeyama(src, apply(truth, src))
    np.testing.assert_allclose(estimate, truth, atol=1e-9)


def test_umeyama_never_reflects() -> None:
    src = portrait_template(100)
    mirrored = src * [-1, 1]
    matrix = umeyama(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_template_is_an_upright_bust() -> None:
    template = portrait_template(512)
    left_eye, right_eye, nose, mouth_left, mouth_right = template
    assert left_eye[1] == pytest.approx(right_eye[1]) == pytest.approx(EYE_LINE * 512)
    assert left_eye[0] < nose[0] < right_eye[0]
    assert nose[1] < mouth_left[1]
    # head about a third of the frame wide, centred: room for shoulders and background
    assert 0.12 < (right_eye[0] - left_eye[0]) / 512 < 0.22
    assert (left_eye[0] + right_eye[0]) / 2 == pytest.approx(256)


def test_inverse_maps_back() -> None:
    matrix = similarity(0.3, 1.7, (5, 9))
    points = np.random.default_rng(0).uniform(0, 500, (20, 2))
    np.testing.assert_allclose(apply(invert(matrix), apply(matrix, points)), points, atol=1e-9)


def dotted_photo(landmarks: np.ndarray, size: tuple[int, int], radius: float) -> Image.Image:
    """A grey photo with a bright dot at each landmark, so we can find where they land."""
    image = Image.new("RGB", size, (90, 90, 90))
    draw = ImageDraw.Draw(image)
    for x, y in landmarks:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255))
    return image


@pytest.mark.parametrize("angle, scale", [(0.0, 0.6), (0.5, 0.35), (-0.8, 1.4), (0.2, 2.5)])
def test_landmarks_land_on_the_template(angle: float, scale: float) -> None:
    size = 256
    template = portrait_template(size)
    photo_to_frame = similarity(angle, 1 / scale, (0, 0))
    landmarks = apply(invert(photo_to_frame), template)
    landmarks += 700 - landmarks.mean(0)  # somewhere inside a large photo
    photo = dotted_photo(landmarks, (1400, 1400), radius=4 * scale)  # ~4 px once aligned
    aligned, alignment = align_face(photo, landmarks, size)
    assert aligned.shape == (size, size, 3) and aligned.dtype == np.uint8
    np.testing.assert_allclose(apply(alignment.matrix, landmarks), template, atol=1e-6)
    for x, y in template:  # the dots are where the template says
        patch = aligned[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3].astype(float)
        assert patch.mean() > 150


def test_outside_the_photo_is_filled_not_black() -> None:
    """A tight selfie crop: the bust frame reaches past the photo; fill it with its colours."""
    photo = Image.new("RGB", (120, 140), (200, 120, 60))
    landmarks = np.array([[45, 60], [75, 60], [60, 78], [48, 95], [72, 95]], float)
    aligned, _ = align_face(photo, landmarks, 256)
    assert aligned.reshape(-1, 3).min(0).tolist() == pytest.approx([200, 120, 60], abs=2)


def test_a_tight_crop_is_framed_closer() -> None:
    """A face with little photo around it: the frame comes closer about the face's centre until
    the photo fills FILLED of it, the landmarks' scale on the template growing by the zoom."""
    photo = Image.new("RGB", (64, 72), (90, 140, 60))
    landmarks = np.array([[22, 30], [42, 30], [32, 42], [24, 54], [40, 54]], float)
    bust = alignment_for(landmarks, 256)
    aligned, alignment = align_face(photo, landmarks, 256)
    assert 1 < alignment.zoom < CLOSEST
    shares = [coverage(a, photo.size).mean() for a in (bust, alignment)]
    assert shares[0] < FILLED <= shares[1] + 0.03
    scale = [np.sqrt(abs(np.linalg.det(a.matrix[:, :2]))) for a in (bust, alignment)]
    assert scale[1] / scale[0] == pytest.approx(alignment.zoom)
    np.testing.assert_allclose(apply(alignment.matrix, landmarks).mean(0), portrait_template(256).mean(0),
                               atol=1e-6)


def test_a_face_near_the_corner_of_a_large_photo_stays_a_bust() -> None:
    """The frame runs past the photo on one side, but the photo is large: no zoom would fill it."""
    landmarks = np.array([[940, 740], [980, 740], [960, 755], [945, 770], [975, 770]], float)
    photo = Image.new("RGB", (1000, 800), (90, 140, 60))
    assert align_face(photo, landmarks, 256)[1].zoom == 1


def test_a_photo_with_room_around_the_face_stays_a_bust(astronaut: Image.Image) -> None:
    landmarks = np.array([[205, 102], [247, 104], [225, 129], [202, 139], [245, 142]], float)
    assert align_face(astronaut, landmarks, 512)[1].zoom == 1


def test_framing_is_what_align_face_uses(astronaut: Image.Image) -> None:
    landmarks = np.array([[205, 102], [247, 104], [225, 129], [202, 139], [245, 142]], float)
    _, alignment = align_face(astronaut, landmarks, 512)
    np.testing.assert_allclose(alignment.matrix, framing(landmarks, astronaut.size, 512).matrix)
