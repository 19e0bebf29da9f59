"""Find faces and their five landmarks with MTCNN (facenet-pytorch; its weights ship in the wheel).

MTCNN is only used as a detector here: alignment is ours (:mod:`portrait.align`). Detection runs
on a copy shrunk to :data:`DETECT_SIDE`, which is where MTCNN's cost lives, and the boxes and
landmarks are mapped back to the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from facenet_pytorch import MTCNN
from PIL import Image

#: Long side of the copy MTCNN sees. A face 20 px wide at this size is still found.
DETECT_SIDE = 640
#: Smallest face searched for, in pixels of that copy (5 % of its width). MTCNN's image pyramid
#: starts at 12/MIN_FACE: 32 instead of MTCNN's default 20 skips its two costliest levels and
#: halves detection time (97 → 56 ms at 640×480), missing only faces no selfie has.
MIN_FACE = 32
#: Faces MTCNN is less sure of than this are ignored (paintings and blur give weak hits).
MIN_SCORE = 0.92


@dataclass(frozen=True)
class Face:
    """One detected face in image pixel coordinates."""

    box: np.ndarray  #: (4,) x1, y1, x2, y2
    landmarks: np.ndarray  #: (5, 2): left eye, right eye, nose, left mouth corner, right mouth corner
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


class FaceDetector:
    """MTCNN built once and reused for every image (building it reads its weights from disk)."""

    def __init__(self, detect_side: int = DETECT_SIDE, min_face_size: int = MIN_FACE,
                 min_score: float = MIN_SCORE) -> None:
        self.detect_side = detect_side
        self.min_score = min_score
        # Channels-last weights send every MTCNN convolution to oneDNN; in the default layout the
        # many small P-Net pyramid levels take PyTorch's slow reference convolution. Same boxes and
        # landmarks (to 1e-4 px), about a quarter less CPU.
        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, post_process=False,
                           device="cpu").eval().to(memory_format=torch.channels_last)

    def __call__(self, image: Image.Image) -> list[Face]:
        """All faces in ``image``, largest first; an empty list when there is none."""
        scale = min(1.0, self.detect_side / max(image.size))
        small = image if scale == 1.0 else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.BILINEAR, reducing_gap=2.0)
        with torch.inference_mode():
            boxes, scores, points = self.mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        # MTCNN reports boxes in the small copy's pixels; map back with the actual resize ratio.
        sx, sy = image.width / small.width, image.height / small.height
        faces = [Face(box=box * [sx, sy, sx, sy], landmarks=pts * [sx, sy], score=float(score))
                 for box, pts, score in zip(boxes, points, scores, strict=True) if score >= self.min_score]
        return sorted(faces, key=lambda face: -(face.box[2] - face.box[0]) * (face.box[3] - face.box[1]))


def nearest_face(faces: list[Face], point: np.ndarray) -> Face:
    """The face whose landmarks' centre is nearest ``point``: the one a tracker or a framed
    portrait is about, when others show at its edge."""
    return min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - point))
