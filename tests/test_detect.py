"""The real MTCNN on real photos shipped inside scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from portrait.detect import FaceDetector


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_finds_the_astronaut_with_ordered_landmarks(detector: FaceDetector, astronaut: Image.Image) -> None:
    faces = detector(astronaut)
    assert len(faces) == 1
    face = faces[0]
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    x1, y1, x2, y2 = face.box
    assert (x1 <= face.landmarks[:, 0]).all() and (face.landmarks[:, 0] <= x2).all()
    assert (y1 <= face.landmarks[:, 1]).all() and (face.landmarks[:, 1] <= y2).all()
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    assert 60 < face.width < 130 and face.score > 0.95


def test_large_photos_are_detected_downscaled_and_mapped_back(detector: FaceDetector,
                                                              astronaut: Image.Image) -> None:
    small = detector(astronaut)[0]
    big = detector(astronaut.resize((1536, 1536), Image.Resampling.BICUBIC))[0]
    np.testing.assert_allclose(big.landmarks, small.landmarks * 3, atol=6)


def test_no_face_in_a_cup_of_coffee(detector: FaceDetector) -> None:
    from skimage import data

    assert detector(Image.fromarray(data.coffee())) == []


def test_several_faces_come_largest_first(detector: FaceDetector, astronaut: Image.Image) -> None:
    face = astronaut.crop((130, 20, 330, 240))
    group = Image.new("RGB", (700, 300), (128, 128, 128))
    group.paste(face, (0, 40))
    group.paste(face.resize((300, 330)), (330, 0))
    faces = detector(group)
    assert len(faces) == 2
    assert faces[0].width > faces[1].width
    assert faces[0].landmarks[:, 0].mean() > 330
