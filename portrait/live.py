"""The live painted mirror: webcam frames painted continuously, steady and cheap.

MTCNN runs on every ``detect_every``-th frame only; between detections the last landmarks are
reused, and every detection is blended into an exponential moving average so that the portrait
does not jitter. Frames are painted at ``size``² (256 by default) with the same generator and
alignment as a full portrait, and, once the masters are ready, on the plate of one master chosen at
the first face in each style (:mod:`portrait.ground`; a ground that changed with every frame would
flicker); FaceMesh runs with the detector, and where it found the sitter is kept until the next
detection (a session holds about 1 MB for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from portrait.align import align_face, coverage
from portrait.detect import nearest_face
from portrait.pipeline import Painter

if TYPE_CHECKING:
    from portrait.ground import Sitting
    from portrait.masters import Master, MasterPainter


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
    master: Master | None = None  #: whose plate the mirror paints on (one of the library's)
    sitter: Sitting | None = None  #: where the sitter was at the last detection

    def step(self, painter: Painter, frame: Image.Image, style: str | Mapping[str, float],
             masters: MasterPainter | None = None) -> np.ndarray | None:
        """Paint one frame; None while no face has been seen yet (or it left the picture).

        The painters are passed in, not kept: sessions live in Gradio state and must stay small
        (the master is a reference into the library; where the sitter is, about 1 MB).
        """
        self.frame = frame
        tracked = self.landmarks is None or self.count % self.detect_every == 0
        if tracked:
            self._track(painter)
        self.count += 1
        if self.landmarks is None:  # nobody there: the next face is someone else, with their own master
            self.master = self.sitter = None
            return None
        aligned, alignment = align_face(frame, self.landmarks, self.size)
        painted = painter.paint(aligned, style)
        if masters is None or style not in masters.instant:
            return painted
        same = self.master is not None and self.master.style == style
        # between detections the frame does not move: its guides still hold
        seat = masters.seat(aligned, style, coverage(alignment, frame.size), alignment.zoom,
                            self.master if same else None, None if tracked else self.sitter, quick=True)
        study = masters.study(aligned, painted, style, seat)
        self.master, self.sitter = study.master, study.sitter
        return study.painted

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
