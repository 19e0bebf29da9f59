"""Losses for the painters.

The VGG terms are relative (≈1 for a bad match, 0 for a perfect one): normalising by the size of
the target keeps the weights readable across layers of very different magnitudes and every style.
The light and total-variation terms are plain L1 on images in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from portrait.colour import blurred
from training.vgg import LAYERS

CONTENT_LAYERS = ("relu3_3", "relu4_3")


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations (N×C×C), the texture statistics of Gatys et al., in fp32."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def relative(error: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖error‖² / ‖target‖² for each image of the batch."""
    dims = tuple(range(1, error.dim()))
    return error.float().pow(2).sum(dims) / target.float().pow(2).sum(dims).clamp_min(1e-8)


def content_loss(out: dict[str, torch.Tensor], photo: dict[str, torch.Tensor]) -> torch.Tensor:
    """Keep the person: the painting's deep VGG features should match the photo's (per image, so
    each style can hold its sitter as tightly as its medium allows)."""
    return sum(relative(out[k] - photo[k], photo[k]) for k in CONTENT_LAYERS) / len(CONTENT_LAYERS)


def style_loss(out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Brushwork, palette and paper: Gram matrices against a real painting of the chosen style.

    Per image, so that each image of a batch can be held to its own style's target and weight.
    """
    return sum(relative(gram(out[k]) - targets[k], targets[k]) for k in LAYERS) / len(LAYERS)


def statistics_loss(stats: torch.Tensor, mean: torch.Tensor, deviation: torch.Tensor) -> torch.Tensor:
    """Squared distance, in deviations, of each image's channel statistics from its style's average
    painting (per image: each is held to its own style). Gram targets drawn one crop at a time
    average out; this term asks for the medium's overall texture energy at every layer."""
    return ((stats - mean) / deviation).pow(2).mean(1)


def luminance(image: torch.Tensor) -> torch.Tensor:
    return (0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2])[:, None]


def light_loss(out: torch.Tensor, photo: torch.Tensor, scale: int = 8) -> torch.Tensor:
    """Keep the lighting on the face: blurred luminance of painting and photo should agree.

    Colour is free everywhere, and the weight falls off away from the centre of the frame (where
    the aligned face is), so a painter may lay its own dark or light ground behind the sitter.
    """
    error = (F.avg_pool2d(luminance(out), scale) - F.avg_pool2d(luminance(photo), scale)).abs()
    return centred_mean(error).mean()


def centred_mean(error: torch.Tensor) -> torch.Tensor:
    """Per image, the mean of N×C×h×w ``error`` weighted towards the middle of the frame, where the
    aligned face is (1 there, 0.2 in the corners)."""
    h, w = error.shape[-2:]
    y = torch.linspace(-1, 1, h, device=error.device)[:, None]
    x = torch.linspace(-1, 1, w, device=error.device)[None, :]
    weight = 0.2 + 0.8 * torch.exp(-(x**2 + y**2) / (2 * 0.35**2))
    return (error * weight).sum((-2, -1)).mean(1) / weight.sum()


def chroma(image: torch.Tensor) -> torch.Tensor:
    """The two colour-difference channels of YUV (BT.601): colour without brightness."""
    r, g, b = image[:, 0], image[:, 1], image[:, 2]
    return torch.stack([-0.147 * r - 0.289 * g + 0.436 * b, 0.615 * r - 0.515 * g - 0.100 * b], 1)


def colour_loss(out: torch.Tensor, photo: torch.Tensor, scale: int = 8) -> torch.Tensor:
    """Keep the sitter's colours at the scale of whole regions (skin, hair, clothes), per image.

    Without it the Gram losses pull every portrait towards the mean colour of a style's paintings,
    a brown-beige monochrome; brushwork is left to the VGG and critic terms (AnimeGAN's YUV idea).
    """
    error = (F.avg_pool2d(chroma(out), scale) - F.avg_pool2d(chroma(photo), scale)).abs()
    return error.mean((1, 2, 3))


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: discourages isolated noisy pixels."""
    return ((image[..., 1:, :] - image[..., :-1, :]).abs().mean()
            + (image[..., :, 1:] - image[..., :, :-1]).abs().mean())


def anchor_loss(out: torch.Tensor, held: torch.Tensor, sigma: float = 3.0) -> torch.Tensor:
    """Per image, L1 between the blurred portrait and the blurred portrait of another painter.

    Holds a painter that is being rebuilt (e.g. its upsampling changed) to what a trained one paints
    at the scale of faces and tones, and leaves it free below ``sigma``, where the old painter's
    lattice lives (its 8-pixel motif keeps 6 % of its contrast through a blur of σ = 3).
    """
    return (blurred(out, sigma) - blurred(held, sigma)).abs().mean((1, 2, 3))


def checker_energy(image: torch.Tensor, scales: tuple[int, ...] = (2, 4, 8), window: int = 4) -> torch.Tensor:
    """Per image, the energy of a local checkerboard on each of the generator's coarse grids.

    The decoder works at 1/8, 1/4 and 1/2 resolution; a pattern that alternates from one cell of
    such a grid to the next shows as a diamond lattice in smooth backgrounds. Averaged over a few
    cells, a natural texture's checkerboard component cancels; a lattice's does not.
    """
    total = torch.zeros(image.shape[0], device=image.device)
    for scale in scales:
        low = F.avg_pool2d(image, scale)
        h, w = low.shape[-2:]
        sign = ((torch.arange(h)[:, None] + torch.arange(w)[None]) % 2 * 2 - 1).to(low)
        total = total + F.avg_pool2d(low * sign, window).pow(2).mean((1, 2, 3))
    return total / len(scales)


# Offsets in pixels (row, column) where a motif stamped into every cell of the decoder's 8-pixel
# grid correlates with itself (a diamond lattice: one cell diagonally, two cells straight), and
# offsets off that grid at the same distances (11.3 and 16 px against 11.4 and 15.8 px).
ON_GRID = ((8, 8), (8, -8), (0, 16), (16, 0))
OFF_GRID = ((11, 3), (3, 11), (11, -3), (3, -11), (13, 9), (9, 13), (13, -9), (9, -13))
#: Detail energy that does not count in a tile (one grey level, in the painter's [-1, 1] units), so
#: flat tiles do not divide by nothing.
LATTICE_FLOOR = (2 / 255) ** 2


def lattice_tiles(image: torch.Tensor, window: int | None = None, each_offset: bool = False) -> torch.Tensor:
    """How much more the fine detail (luminance minus its 9×9 mean) correlates with itself one and
    two cells away on the decoder's 8-pixel grid than at the same distances off it, N×1×h×w: over
    the whole image (``window`` None: h = w = 1) or in ``window``² tiles, each against its own detail
    plus :data:`LATTICE_FLOOR`.

    A motif the decoder stamps into every cell correlates on the grid; paint, paper grain and a
    photo's own texture correlate alike on and off it (photos: ≈0). Over the whole image the edges
    of a face outweigh the smooth grounds where the lattice shows; tile by tile, a ground counts as
    much as a face. Differentiable, so the evaluation's measure can be trained against
    (``--lattice``); :func:`checker_energy` only sees a motif that alternates from cell to cell.
    ``each_offset`` counts only the grid offsets' excesses, so none can pay for another: a painter
    trained against their plain mean turned its diamonds into rows that repeat across (0, 16) and
    anti-correlate down (16, 0), and scored below a photo. (The clamp lifts a photo's own noise:
    ≈0.015 over a 512² photo, ≈0.07 in 32² tiles.)
    """
    lum = luminance(image)
    detail = lum - F.avg_pool2d(F.pad(lum, (4,) * 4, mode="replicate"), 9, 1)
    detail = detail - detail.mean((-2, -1), keepdim=True)
    size, floor = (window, LATTICE_FLOOR) if window else (tuple(detail.shape[-2:]), 0.0)

    def correlation(offsets: tuple[tuple[int, int], ...]) -> torch.Tensor:
        return torch.stack([F.avg_pool2d(detail * detail.roll(o, (-2, -1)), size) for o in offsets])

    excess = correlation(ON_GRID) - correlation(OFF_GRID).mean(0)
    if each_offset:
        excess = excess.clamp_min(0)
    return excess.mean(0) / (F.avg_pool2d(detail.pow(2), size) + floor).clamp_min(1e-12)


def lattice_loss(out: torch.Tensor, photo: torch.Tensor, window: int | None) -> torch.Tensor:
    """Per image, the mean over tiles of the portrait's :func:`lattice_tiles` (each offset's excess)
    above its photo's: a hot spot of lattice is not paid for by tiles, or grid offsets, that
    correlate less on the grid than off it."""
    allowed = lattice_tiles(photo, window, each_offset=True)
    return (lattice_tiles(out, window, each_offset=True) - allowed).clamp_min(0).mean((1, 2, 3))


def palette_loss(out: torch.Tensor, paintings: torch.Tensor, samples: int = 1024) -> torch.Tensor:
    """Per image, how far its distribution of tones and colours lies from a real painting's.

    Sorted pixel values along luminance and chroma are compared (the 1-D optimal transport
    distance, as in Risser et al.'s histogram loss) with those of a crop of a painting of any
    size (quantiles, not pixels, are compared): it asks for the medium's paper whites, wash
    tints and limited palette wherever the painting puts them, and leaves the layout free. The VGG
    terms only see colour through texture detectors and left every watercolor too dark and too
    saturated, with no paper white.
    """
    def sorted_values(images: torch.Tensor) -> torch.Tensor:
        images = images.float()
        values = torch.cat([luminance(images), chroma(images)], 1).flatten(2)  # N×3×P
        index = torch.linspace(0, values.shape[-1] - 1, samples, device=values.device).round().long()
        return values.sort(-1).values[..., index]

    return (sorted_values(out) - sorted_values(paintings)).abs().mean((1, 2))
