"""Warp a face onto a canonical head-and-shoulders portrait frame with a 5-point similarity.

MTCNN only gives landmarks; this module solves the least-squares similarity transform (Umeyama)
from them onto :func:`portrait_template`, and warps with it. A tight crop (a face with
little around it) is framed closer, up to :data:`CLOSEST` times, so the photo fills the frame
rather than a sea of fill; what still lies outside the photo is filled with its edge colours,
smeared and blurred, never black. The transform is returned so that a portrait
can be pasted back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# ArcFace's 5-point template (112×112 pixels): eyes, nose tip, mouth corners.
_ARCFACE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]])

#: Eye distance as a fraction of the frame width, and height of the eye line. A classical bust:
#: the head is about a third of the frame wide, the eyes a little above the upper third.
EYE_DISTANCE = 0.16
EYE_LINE = 0.38
#: A photo whose area is less than :data:`FILLED` of the bust frame's is framed closer about the
#: face, by at most :data:`CLOSEST` (a 200-px face crop covered 12 % of the bust frame, and any
#: painter then paints a tiny face in a sea of blur, or invents a stranger's hair and clothes).
FILLED = 0.6
CLOSEST = 2.4


def _symmetric(points: np.ndarray) -> np.ndarray:
    """Mirror-average a 5-point template so the eyes and mouth corners are exactly level."""
    mirrored = points[[1, 0, 2, 4, 3]] * [-1, 1] + [2 * points[2, 0], 0]
    return (points + mirrored) / 2


def portrait_template(size: int) -> np.ndarray:
    """The five landmark positions, in pixels, of a face framed as a bust in a ``size``² square."""
    face = _symmetric(_ARCFACE)
    eyes = face[:2].mean(axis=0)
    unit = (face - eyes) / np.linalg.norm(face[1] - face[0]) * EYE_DISTANCE
    return (unit + [0.5, EYE_LINE]) * size


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking ``src`` to ``dst``.

    Returns the 2×3 matrix ``M`` with ``dst ≈ M @ [x, y, 1]``. Umeyama (1991), without reflection.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(sigma) @ sign) / s.var(0).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - matrix[:, :2] @ mu_s
    return matrix


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 2×3 affine matrix."""
    return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class Alignment:
    """How an aligned portrait relates to its photo: ``matrix`` maps photo pixels to frame pixels."""

    matrix: np.ndarray
    size: int
    zoom: float = 1.0  #: how much closer than a bust the face is framed (a tight crop's)

    @property
    def inverse(self) -> np.ndarray:
        return invert(self.matrix)


def closer(points: np.ndarray, size: int, zoom: float) -> np.ndarray:
    """Where points (…×2, x y) of a size² bust frame lie in a frame ``zoom`` times closer: scaled
    about the template's centre, the face's (``1 / zoom`` maps back to the bust)."""
    centre = portrait_template(size).mean(0)
    return (np.asarray(points, np.float64) - centre) * zoom + centre


def alignment_for(landmarks: np.ndarray, size: int, zoom: float = 1.0) -> Alignment:
    """The similarity that puts ``landmarks`` (5×2, photo pixels) on the template, brought
    ``zoom`` times closer about the face's centre."""
    return Alignment(umeyama(landmarks, closer(portrait_template(size), size, zoom)), size, zoom)


def framing(landmarks: np.ndarray, image_size: tuple[int, int], size: int) -> Alignment:
    """The bust frame for a face of a W×H photo, closer when the photo is too small to fill it.

    What counts is the photo's area in the frame, not how much of the frame it covers: a face
    near a corner of a large photo leaves the frame uncovered on one side, and no zoom changes that.
    """
    bust = alignment_for(landmarks, size)
    width, height = image_size
    area = width * height * abs(np.linalg.det(bust.matrix[:, :2])) / size**2  # in frames
    zoom = 1.0 if area >= FILLED else min(CLOSEST, float(np.sqrt(FILLED / max(area, 1e-6))))
    return bust if zoom == 1.0 else alignment_for(landmarks, size, zoom)


def coverage(alignment: Alignment, image_size: tuple[int, int]) -> np.ndarray:
    """Which pixels of the aligned frame show the photo (W×H ``image_size``) rather than the fill
    around a tight crop: painters must not take that blur for part of the picture."""
    centres = np.arange(alignment.size) + 0.5
    (a, b, c), (d, e, f) = alignment.inverse  # the frame's rows and columns, mapped by broadcasting
    x = a * centres[None, :] + b * centres[:, None] + c
    y = d * centres[None, :] + e * centres[:, None] + f
    width, height = image_size
    return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)


def align_face(image: Image.Image, landmarks: np.ndarray, size: int = 512) -> tuple[np.ndarray, Alignment]:
    """Warp ``image`` so ``landmarks`` sit on the portrait template (:func:`framing`); returns
    (H×W×3 uint8, alignment)."""
    alignment = framing(landmarks, image.size, size)
    return warp(image, alignment), alignment


def warp(image: Image.Image, alignment: Alignment) -> np.ndarray:
    """``image`` in the frame of ``alignment`` (size²×3 uint8), the frame beyond it filled."""
    matrix, size = alignment.matrix, alignment.size
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # frame pixels per photo pixel

    # Only the part of the photo the frame sees is converted and warped.
    corners = apply(invert(matrix), np.array([[0, 0], [size, 0], [0, size], [size, size]]))
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.width), min(y1, image.height)
    if x1 - x0 < 2 or y1 - y0 < 2:  # the frame lies entirely outside the photo
        x0, y0, x1, y1 = 0, 0, image.width, image.height
    crop = image.crop((x0, y0, x1, y1))
    offset = np.array([x0, y0], np.float64)
    shrink = 1.0
    if scale < 0.6:  # shrinking a lot: filter first so the warp does not alias
        shrink = min(1.0, scale * 1.5)
        crop = crop.resize((max(2, round(crop.width * shrink)), max(2, round(crop.height * shrink))),
                           Image.Resampling.BILINEAR, reducing_gap=2.0)

    source = torch.from_numpy(np.array(crop)).permute(2, 0, 1)[None].float()
    factors = np.array([crop.width / (x1 - x0), crop.height / (y1 - y0)])
    to_crop = np.diag([*factors, 1.0])[:2] @ np.vstack([invert(matrix), [0, 0, 1]])
    to_crop[:, 2] -= offset * factors
    grid = sampling_grid(to_crop, (crop.width, crop.height), (size, size))
    warped = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # Outside the photo the border pixels are smeared outwards; blur them into a soft background
    # (a mirror image would paint ghost faces beside a tight selfie).
    # The grid is affine in the pixel position: it stays inside [-1, 1]² iff its corners do.
    if grid[0, [0, 0, -1, -1], [0, -1, 0, -1]].abs().max() > 1:
        inside = ((grid.abs() <= 1).all(-1)).float()[:, None]
        k = max(4, size // 16)
        coarse = F.avg_pool2d(warped, k, stride=k)
        blurred = F.interpolate(F.avg_pool2d(coarse, 5, stride=1, padding=2, count_include_pad=False),
                                size=(size, size), mode="bilinear", align_corners=False)
        soft = F.interpolate(F.avg_pool2d(inside, k // 2, stride=k // 2), size=(size, size),
                             mode="bilinear", align_corners=False)
        warped = torch.lerp(blurred, warped, soft)
    return warped[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()


def _normaliser(width: int, height: int) -> np.ndarray:
    """Continuous pixel coordinates to grid_sample's [-1, 1] (align_corners=False)."""
    return np.array([[2.0 / width, 0, -1.0], [0, 2.0 / height, -1.0], [0, 0, 1]])


def sampling_grid(target_to_source: np.ndarray, source_size: tuple[int, int],
                  target_size: tuple[int, int]) -> torch.Tensor:
    """grid_sample grid (1×H×W×2) for a 2×3 map from target pixels to source pixels (sizes as W, H)."""
    theta = (_normaliser(*source_size) @ np.vstack([target_to_source, [0, 0, 1]])
             @ np.linalg.inv(_normaliser(*target_size)))
    width, height = target_size
    t = torch.from_numpy(theta[:2]).float()
    # affine_grid's (H·W × 3) @ (3 × 2) batched matmul is the slowest step of a warp on CPU; the
    # map is separable into a row term and a column term, so two broadcast sums build the same grid.
    xs = (torch.arange(width, dtype=torch.float32) * 2 + 1) / width - 1  # pixel centres
    ys = (torch.arange(height, dtype=torch.float32) * 2 + 1) / height - 1
    grid = torch.empty(1, height, width, 2)
    for i in range(2):
        torch.add((t[i, 0] * xs)[None, :], (t[i, 1] * ys + t[i, 2])[:, None], out=grid[0, :, :, i])
    return grid
