"""The live painted mirror: webcam frames painted continuously, steady and cheap.

MTCNN runs on every ``detect_every``-th frame only; between detections the last landmarks are
reused, and every detection is blended into an exponential moving average so that the portrait
does not jitter. Frames are painted at ``size``² (256 by default) with the same generator and
alignment as a full portrait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from portrait.align import align_face
from portrait.detect import nearest_face
from portrait.pipeline import Painter


@dataclass
class LiveSession:
    """One visitor's stream: the smoothed landmarks, and the last frame (for freezing)."""

    size: int = 256
    detect_every: int = 3
    smoothing: float = 0.5  #: weight of the newest detection in the moving average
    landmarks: np.ndarray | None = None
    frame: Image.Image | None = None
    count: int = 0
    misses: int = 0

    def step(self, painter: Painter, frame: Image.Image,
             style: str | Mapping[str, float]) -> np.ndarray | None:
        """Paint one frame; None while no face has been seen yet (or it left the picture).

        The painter is passed in, not kept: sessions live in Gradio state and must stay small.
        """
        self.frame = frame
        if self.landmarks is None or self.count % self.detect_every == 0:
            self._track(painter)
        self.count += 1
        if self.landmarks is None:
            return None
        aligned, _ = align_face(frame, self.landmarks, self.size)
        return painter.paint(aligned, style)

    def _track(self, painter: Painter) -> None:
        faces = painter.detector(self.frame)
        if not faces:
            self.misses += 1
            if self.misses > 2 * self.detect_every:  # gone for a while: stop painting a ghost
                self.landmarks = None
            return
        self.misses = 0
        if self.landmarks is None:
            self.landmarks = faces[0].landmarks
            return
        nearest = nearest_face(faces, self.landmarks.mean(0))
        self.landmarks = self.smoothing * nearest.landmarks + (1 - self.smoothing) * self.landmarks
