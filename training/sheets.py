"""Contact sheets: how portraits look, for people to judge by eye."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from portrait.model import Generator


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float N×3×H×W in [-1, 1] → uint8 N×H×W×3."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def grid(rows: list[list[np.ndarray]]) -> Image.Image:
    """Tile equally sized H×W×3 images into rows."""
    return Image.fromarray(np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0))


@torch.inference_mode()
def preview_sheet(generator: Generator, photos: torch.Tensor) -> Image.Image:
    """One row per photo: the photo, then each of the generator's styles."""
    columns = [to_uint8(photos)]
    for name in generator.styles:
        columns.append(to_uint8(generator(photos, generator.one_hot([name] * len(photos)))))
    return grid([[column[i] for column in columns] for i in range(len(photos))])
