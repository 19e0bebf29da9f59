"""The in-memory pipeline: image in → faces found → aligned → painted. Nothing touches the disk.

:class:`Painter` loads MTCNN and the generator once; every call after that is a plain function of
the image, so the app, the benchmark and a live video loop all share the same code path.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from portrait.align import Alignment, align_face, coverage
from portrait.detect import Face, FaceDetector
from portrait.inputs import InputError, load_image
from portrait.model import Generator
from portrait.styles import WEIGHTS, available_styles, load_generator

if TYPE_CHECKING:
    from portrait.masters import Master, MasterPainter

#: Long side of a whole painted frame: the generator's cost grows with the pixels (≈0.25 s at 1024).
FRAME_SIDE = 1024
NO_FACE = ("No face found. Face the camera, move a little closer and make sure your face is well lit.")
#: Turns tried when no face is found the right way up: phones save some photos sideways with
#: the turn only in an EXIF tag, which messengers and editors often strip.
TURNS = (Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180)


def bf16_supported() -> bool:
    """bf16 pays off only with native AVX-512 BF16 / AMX; elsewhere it is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and ("avx512_bf16" in flags or "amx_bf16" in flags)


def faster_precision(generator: Generator, size: int, runs: int = 3) -> torch.dtype:
    """bf16 or fp32, whichever paints a ``size``² frame faster on this CPU (best of ``runs`` after a
    warm-up call each), timed on channels-last copies of ``generator``, which stays as it is.

    Native bf16 does not always pay: on an Intel Xeon with AVX-512 BF16 but no AMX a 512² portrait
    took 98–106 ms in bf16 against 65–75 ms in fp32. The race costs under a second at start-up; a
    wrong guess would cost a third of every portrait.
    """
    frame = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    weights = generator.one_hot(generator.styles[:1])
    candidates = {dtype: (copy.deepcopy(generator).to(dtype, memory_format=torch.channels_last),
                          frame.to(dtype).contiguous(memory_format=torch.channels_last), weights.to(dtype))
                  for dtype in (torch.bfloat16, torch.float32)}
    best = dict.fromkeys(candidates, float("inf"))
    with torch.inference_mode():
        for candidate, x, style in candidates.values():  # oneDNN builds its kernels on the first call
            candidate(x, style)
        for _ in range(runs):  # taking turns, so that a burst of other load slows both alike
            for dtype, (candidate, x, style) in candidates.items():
                start = time.perf_counter()
                candidate(x, style)
                best[dtype] = min(best[dtype], time.perf_counter() - start)
    return min(best, key=best.__getitem__)


def chosen_faces(faces: list[Face], which: int | None) -> list[Face]:
    """Face number ``which`` (0 = largest, as the app's thumbnails count; past the end: the last),
    or every face when None."""
    return faces if which is None else [faces[min(which, len(faces) - 1)]]


@dataclass(frozen=True)
class Portrait:
    """One painted face and everything needed to show it or paste it back into the photo."""

    face: Face
    alignment: Alignment
    aligned: np.ndarray  #: the photo in portrait framing, H×W×3 uint8
    painted: np.ndarray  #: the portrait, H×W×3 uint8


class Painter:
    """Detector + generator, ready to paint. Build once per process."""

    def __init__(self, weights: Path = WEIGHTS, size: int = 512, threads: int | None = None,
                 bf16: bool | None = None) -> None:
        """``bf16`` None: where the CPU has native bf16, whichever of bf16 and fp32 is faster here."""
        torch.set_num_threads(threads or min(4, os.cpu_count() or 1))
        self.size = size
        self.detector = FaceDetector()
        generator = load_generator(weights).float()
        if bf16 is None:
            self.dtype = faster_precision(generator, size) if bf16_supported() else torch.float32
        else:
            self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.bf16 = self.dtype == torch.bfloat16
        # Cast once rather than autocast: autocast keeps the norms in fp32 and converts
        # activations back and forth around every one of them.
        self.generator = generator.to(self.dtype, memory_format=torch.channels_last)
        self.styles = available_styles(self.generator)
        self.beside = ThreadPoolExecutor(1, thread_name_prefix="seat")  #: the instant portrait's photo side

    def style_weights(self, style: str | Mapping[str, float]) -> torch.Tensor:
        """Mixing weights for one style name, or a blend such as ``{"oil": 0.7, "ink": 0.3}``."""
        blend = {style: 1.0} if isinstance(style, str) else dict(style)
        unknown = [name for name in blend if name not in self.styles]
        if unknown or not blend:
            raise InputError(f"Unknown style {', '.join(unknown) or '(none)'}. "
                             f"Choose one of: {', '.join(self.styles)}.")
        total = sum(blend.values()) or 1.0
        return torch.tensor([[blend.get(name, 0.0) / total for name in self.generator.styles]])

    @torch.inference_mode()
    def paint(self, aligned: np.ndarray, style: str | Mapping[str, float],
              strength: float = 1.0) -> np.ndarray:
        """Repaint an aligned H×W×3 uint8 frame (H, W multiples of 8) in ``style``.

        ``strength`` mixes photo (0) and painting (1) for visitors who want to see more of themselves.
        """
        weights = self.style_weights(style)
        x = torch.from_numpy(aligned).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        x = x.contiguous(memory_format=torch.channels_last)
        y = self.generator(x.to(self.dtype), weights)
        y = torch.lerp(x, y.float(), float(np.clip(strength, 0.0, 1.0)))
        pixels = y[0].add(1).mul(127.5).clamp(0, 255).round().byte().permute(1, 2, 0)
        return np.ascontiguousarray(pixels)

    def paint_frame(self, image: Image.Image, style: str | Mapping[str, float], strength: float = 1.0,
                    side: int = FRAME_SIDE) -> np.ndarray:
        """The whole photo painted (the generator is fully convolutional), long side ≤ ``side``.

        The generator needs multiples of 8: the frame is padded by reflection and cropped back, so
        no edge is stretched or cut.
        """
        frame = image.convert("RGB")
        if max(frame.size) > side:
            frame = frame.copy()
            frame.thumbnail((side, side), Image.Resampling.BILINEAR)
        pixels = np.asarray(frame)
        h, w = pixels.shape[:2]
        padded = np.pad(pixels, ((0, -h % 8), (0, -w % 8), (0, 0)), mode="reflect")
        return self.paint(padded, style, strength)[:h, :w]

    def upright_faces(self, image: Image.Image) -> tuple[Image.Image, list[Face]]:
        """The image turned so its faces stand upright, and those faces, largest first; raises
        InputError with a helpful hint when there are none.

        Only when no face is found as it is are the three other turns tried, and the turn with the
        surest face wins: MTCNN sometimes takes a patch of a sideways photo for a face (a patch of
        the astronaut's suit, 0.992 sure and wider than her face, which scores 0.999).
        """
        faces = self.detector(image)
        if faces:
            return image, faces
        turns = [(turned, self.detector(turned)) for turned in (image.transpose(t) for t in TURNS)]
        turned, faces = max(turns, key=lambda pair: max((f.score for f in pair[1]), default=0.0))
        if not faces:
            raise InputError(NO_FACE)
        return turned, faces

    def __call__(self, data, style: str | Mapping[str, float] = "oil",
                 which: int | None = 0) -> list[Portrait]:
        """Paint face number ``which`` (0 = largest) of any image input, or every face if None."""
        image, faces = self.upright_faces(load_image(data))
        return [self.portrait(image, face, style) for face in chosen_faces(faces, which)]

    def portrait(self, image: Image.Image, face: Face, style: str | Mapping[str, float],
                 strength: float = 1.0, masters: MasterPainter | None = None,
                 plates: bool = True) -> Portrait:
        """Align one detected face of a decoded image and paint it; with ``masters``, on the plate
        of the master it would be painted after first (the instant portrait: :mod:`portrait.ground`),
        or in a :data:`portrait.masters.TONED` style at the sitter's skin tone. ``plates`` False
        (a portrait pasted back into its photo must not bring a master's ground with it): every
        style at the sitter's skin tone, none on a plate."""
        aligned, alignment = align_face(image, face.landmarks, self.size)
        main = style if isinstance(style, str) else max(style, key=style.__getitem__, default="")
        if masters is None or main not in masters.instant:
            return Portrait(face, alignment, aligned, self.paint(aligned, style, strength))
        # the photo's side (FaceMesh, the segmenter, the master's choice: mostly one core) beside the
        # generator: 7–11 ms less on 2 cores, measured
        seen = coverage(alignment, image.size)
        seat = self.beside.submit(masters.seat, aligned, main, seen, alignment.zoom, plate=plates)
        painted = self.paint(aligned, style)
        study = masters.study(aligned, painted, main, seat.result())
        return Portrait(face, alignment, aligned, mixed(aligned, study.painted, strength))

    def after_master(self, masters: MasterPainter, image: Image.Image, face: Face, style: str,
                     rank: int = 0, strength: float = 1.0) -> tuple[Portrait, Master]:
        """Align one face and paint it after the ``rank``-th best master of ``style`` (slow: ~1 s)."""
        aligned, alignment = align_face(image, face.landmarks, self.size)
        painting = masters.paint(aligned, style, rank, seen=coverage(alignment, image.size),
                                 zoom=alignment.zoom)
        return Portrait(face, alignment, aligned, mixed(aligned, painting.painted, strength)), painting.master


def mixed(photo: np.ndarray, painted: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` of the way from the photo (0) to the painting (1), for visitors who want to
    see more of themselves."""
    mix = float(np.clip(strength, 0.0, 1.0))
    if mix == 1.0:  # the painting itself (a copy of it costs 2 ms at 512²)
        return painted
    return np.rint(photo + mix * (painted.astype(np.float32) - photo)).astype(np.uint8)
