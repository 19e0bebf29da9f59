"""The painter: one compact feed-forward generator for every style, conditioned on the style.

Designed for 2 CPU cores: the photo is brought down to 1/8 resolution in three strided
convolutions, the work happens there (residual blocks, large receptive field at low cost), and
upsampling + 3×3 convolutions bring it back (no transposed convolutions). Nearest-neighbour
upsampling (the first painters) lets the decoder stamp one small motif per 1/8 cell, which shows at
512² as a diamond lattice in smooth grounds and clothes; bilinear upsampling hands the decoder
smooth inputs, with no cell edges to stamp on. The style is a learned embedding that modulates
every layer (FiLM); blending styles is blending embeddings. Instance norm only where statistics are
meaningful (encoder and body); the decoder is modulated but not normalised, which avoids instance
norm's "droplets".
With ``skips`` the lattice cannot come from the body at all: its output is low-passed (a binomial
filter, zero at the 1/8 grid's own checkerboard frequency) before it is upsampled, and the detail a
portrait needs comes from the encoder's 1/4- and 1/2-resolution features, which join the decoder
through 1×1 convolutions (U-Net skips, added rather than concatenated: nearly free). Without them
every edge and brush mark had to be coded in the 1/8 grid; blurring the body's output of a painter
trained that way leaves no detail at all.
Optionally the decoder also gets StyleGAN's noise inputs ("grain"): a per-pixel random field gives
paper and canvas their stochastic texture, which a deterministic body at 1/8 resolution can only
imitate with regular lattices.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FiLM(nn.Module):
    """(Optionally instance-normalised) features scaled and shifted by a style vector."""

    def __init__(self, channels: int, style_dim: int, normalise: bool) -> None:
        super().__init__()
        self.normalise = normalise
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # Instance norm written as GroupNorm with one group per channel: the same numbers, but it
        # keeps channels_last (F.instance_norm converts to NCHW and back at every layer).
        gamma, beta = self.affine(style).chunk(2, dim=1)
        if self.normalise and x.shape[0] == 1:
            # One image (the app): the style's scale and shift are GroupNorm's own affine, one pass.
            return F.group_norm(x, x.shape[1], 1 + gamma[0], beta[0], eps=1e-5)
        if self.normalise:
            x = F.group_norm(x, x.shape[1], eps=1e-5)
        return torch.addcmul(beta[:, :, None, None], x, 1 + gamma[:, :, None, None])


class ConvFiLM(nn.Module):
    """3×3 convolution → FiLM → ReLU (the activation is optional for residual outputs)."""

    def __init__(self, cin: int, cout: int, style_dim: int, stride: int = 1,
                 normalise: bool = True, activate: bool = True, grain: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, padding_mode="reflect")
        self.film = FiLM(cout, style_dim, normalise)
        self.activate = activate
        # per-channel strength of the grain field, zero at first: a trained painter starts unchanged
        self.grain = nn.Parameter(torch.zeros(cout)) if grain else None

    def forward(self, x: torch.Tensor, style: torch.Tensor,
                field: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv(x)
        if self.grain is not None and field is not None:
            x = torch.addcmul(x, self.grain.to(x.dtype)[:, None, None], field.to(x))
        x = self.film(x, style)
        return F.relu(x) if self.activate else x


class ResBlock(nn.Module):
    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.a = ConvFiLM(channels, channels, style_dim)
        self.b = ConvFiLM(channels, channels, style_dim, activate=False)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, style), style)


@functools.lru_cache(maxsize=16)  # a few sizes recur (512², 256², a live frame); uploads vary
def fixed_field(height: int, width: int) -> torch.Tensor:
    """The grain a painting gets at this size (seeded: the same for every portrait and process)."""
    with torch.inference_mode(False):  # cached across calls: must not be an inference-only tensor
        return torch.randn(1, 1, height, width, generator=torch.Generator().manual_seed(0))


def binomial_blur(x: torch.Tensor) -> torch.Tensor:
    """[1, 2, 1]² / 16 per channel: removes a grid's checkerboard exactly, keeps slow changes."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    kernel = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), kernel, groups=x.shape[1])


class Generator(nn.Module):
    """Image in [-1, 1] (N×3×H×W, H and W multiples of 8) → painted image in [-1, 1]."""

    def __init__(self, styles: Sequence[str], width: int = 24, blocks: int = 4, style_dim: int = 64,
                 grain: bool = False, upsample: str = "nearest", skips: bool = False) -> None:
        super().__init__()
        if upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', not {upsample!r}")
        self.styles = list(styles)
        self.config = {"width": width, "blocks": blocks, "style_dim": style_dim, "grain": grain,
                       "upsample": upsample, "skips": skips}
        w = width
        self.embedding = nn.Parameter(torch.randn(len(self.styles), style_dim))
        self.encoder = nn.ModuleList([ConvFiLM(3, w, style_dim, stride=2),
                                      ConvFiLM(w, 2 * w, style_dim, stride=2),
                                      ConvFiLM(2 * w, 4 * w, style_dim, stride=2)])
        self.body = nn.ModuleList([ResBlock(4 * w, style_dim) for _ in range(blocks)])
        self.decoder = nn.ModuleList([ConvFiLM(4 * w, 2 * w, style_dim, normalise=False, grain=grain),
                                      ConvFiLM(2 * w, w, style_dim, normalise=False, grain=grain)])
        self.out = nn.Conv2d(w, 3, 3, 1, 1, padding_mode="reflect")
        if skips:  # encoder 1/4 → decoder's first input, encoder 1/2 → its second; zero at first
            self.joins = nn.ModuleList([nn.Conv2d(2 * w, 4 * w, 1), nn.Conv2d(w, 2 * w, 1)])
            for join in self.joins:
                nn.init.zeros_(join.weight)
                nn.init.zeros_(join.bias)

    def style_vector(self, weights: torch.Tensor) -> torch.Tensor:
        """Style embedding for per-image mixing weights (N × n_styles; one-hot picks a style)."""
        return weights.to(self.embedding) @ self.embedding

    def one_hot(self, names: Sequence[str]) -> torch.Tensor:
        """Mixing weights selecting one named style per image."""
        index = torch.tensor([self.styles.index(name) for name in names])
        return F.one_hot(index, len(self.styles)).float()

    def grown(self, **config: object) -> Generator:
        """This painter rebuilt with ``config`` changed, its trained weights kept. New grain strengths
        and skip joins start at zero: with grain alone it paints exactly as before, and can go on
        training with grain or be blended with a descendant that learned it."""
        grown = Generator(self.styles, **{**self.config, **config})
        missing, unexpected = grown.load_state_dict(self.state_dict(), strict=False)
        if unexpected or any(not name.endswith(".grain") and not name.startswith("joins.")
                             for name in missing):
            raise ValueError(f"cannot grow this painter into {config}")
        return grown.train(self.training)

    def field(self, like: torch.Tensor) -> torch.Tensor:
        """The grain: fresh noise per image while training (so no one pattern is learned by heart);
        when painting, one fixed field per size, so a portrait is reproducible and, in live video,
        the grain stays put on the picture like the texture of paper."""
        n, _, h, w = like.shape
        return torch.randn(n, 1, h, w, device=like.device) if self.training else fixed_field(h, w)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        if self.config["upsample"] == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        style = self.style_vector(weights)
        skipped = []
        for layer in self.encoder:
            x = layer(x, style)
            skipped.append(x)
        for block in self.body:
            x = block(x, style)
        if self.config["skips"]:
            x = binomial_blur(x)
        for i, layer in enumerate(self.decoder):
            x = self.upsample(x)
            if self.config["skips"]:
                x = x + self.joins[i](skipped[-2 - i])
            x = layer(x, style, self.field(x) if self.config["grain"] else None)
        x = self.upsample(x)
        return torch.tanh(self.out(x))
