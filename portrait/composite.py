"""Paint back into the photo: each portrait warped with the inverse of its alignment and blended in.

The seam is soft (a feathered ellipse around the face in portrait coordinates) and colour-matched
(the portrait's mean colour near the seam is shifted to the photo's there), so the result reads as
the visitor's own photo with painted faces.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from portrait.align import EYE_LINE, Alignment, closer, coverage, sampling_grid


def face_mask(size: int, zoom: float = 1.0) -> torch.Tensor:
    """1 inside an ellipse covering head and neck of the template frame (framed ``zoom`` times
    closer, :class:`portrait.align.Alignment`), 0 outside, feathered; and 0 at the frame's edge,
    which a closer frame's ellipse reaches: the seam is then feathered inside the frame too."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    cx, cy = map(float, closer([size / 2, size * (EYE_LINE + 0.12)], size, zoom))
    rx, ry = size * 0.30 * zoom, size * 0.40 * zoom
    distance = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
    edge = torch.minimum(torch.minimum(xs, size - xs), torch.minimum(ys, size - ys))
    return (torch.clamp((1.25 - distance) / 0.5, 0, 1) * torch.clamp(edge / (0.08 * size), 0, 1))[None, None]


def paste_back(photo: Image.Image, portraits: Iterable[tuple[np.ndarray, Alignment]]) -> np.ndarray:
    """The photo with each (painted frame, alignment) blended over its face."""
    canvas = torch.from_numpy(np.array(photo.convert("RGB"))).permute(2, 0, 1)[None].float()
    width, height = photo.size
    for painted, alignment in portraits:
        frame = torch.from_numpy(np.ascontiguousarray(painted)).permute(2, 0, 1)[None].float()
        mask = face_mask(alignment.size, alignment.zoom)
        # colour match on the seam ring: where the blend is half-way, portrait and photo should agree
        ring = ((mask > 0.05) & (mask < 0.6)).float()
        size = alignment.size
        to_frame = sampling_grid(alignment.inverse, (width, height), (size, size))
        photo_in_frame = F.grid_sample(canvas, to_frame, padding_mode="border", align_corners=False)
        weight = ring.sum().clamp_min(1)
        shift = ((photo_in_frame - frame) * ring).sum((2, 3), keepdim=True) / weight
        frame = (frame + shift * (1 - mask)).clamp(0, 255)
        layer = F.grid_sample(torch.cat([frame, mask], 1),
                              sampling_grid(alignment.matrix, (size, size), (width, height)),
                              padding_mode="zeros", align_corners=False)
        alpha = layer[:, 3:]
        canvas = canvas * (1 - alpha) + layer[:, :3] * alpha
    return canvas[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def photo_only(aligned: np.ndarray, alignment: Alignment, image_size: tuple[int, int],
               fill: tuple[int, int, int]) -> np.ndarray:
    """The aligned frame with ``fill`` where it ran past the photo (W×H ``image_size``): the blur
    that pads a tight crop for the painters is no part of the picture, and is not shown as one."""
    inside = coverage(alignment, image_size)
    return np.where(inside[..., None], aligned, np.array(fill, np.uint8))
