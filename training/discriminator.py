"""The critic that tells real paintings from painted photos, one verdict per style and per patch.

Gram losses alone average many paintings into one beige "drawing": they match texture statistics
but not what a single painting's palette and strokes look like together. A patch critic sees
colour and stroke at once. Two scales (full and half resolution) so it judges both brushwork
and the larger shapes of light and shadow; spectral norm keeps it smooth enough to train against
on a few hundred paintings. One output channel per style: "is this patch a real painting of
*this* style", so oil is pushed apart from watercolor and ink, not just from photos.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchCritic(nn.Module):
    """Image in [-1, 1] → N×styles×h×w scores (receptive field ≈ 46 px)."""

    def __init__(self, styles: int, width: int = 32) -> None:
        super().__init__()
        w = width
        layers: list[nn.Module] = []
        for cin, cout, stride in ((3, w, 2), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1)):
            layers += [spectral_norm(nn.Conv2d(cin, cout, 3, stride, 1)), nn.LeakyReLU(0.2)]
        layers.append(spectral_norm(nn.Conv2d(4 * w, styles, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiScaleCritic(nn.Module):
    """Two patch critics, at full and half resolution."""

    def __init__(self, styles: int, width: int = 32) -> None:
        super().__init__()
        self.scales = nn.ModuleList([PatchCritic(styles, width), PatchCritic(styles, width)])

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> list[torch.Tensor]:
        """Scores of each image for its own style index (``style``: N longs), at each scale."""
        scores = []
        for i, critic in enumerate(self.scales):
            out = critic(F.avg_pool2d(x, 2) if i else x)
            scores.append(out.gather(1, style[:, None, None, None].expand(-1, 1, *out.shape[2:])))
        return scores


def critic_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Hinge loss for the critic: real patches above +1, painted photos below -1."""
    pairs = zip(real, fake, strict=True)
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in pairs) / len(real)


def generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """Hinge loss for the generator: raise the critic's score of its paintings."""
    return -sum(f.mean() for f in fake) / len(fake)
