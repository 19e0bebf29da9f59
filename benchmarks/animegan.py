"""AnimeGANv2's generator (the ``face_paint_512_v2`` variant), rebuilt for timing only.

The project claims its painter is several times faster than this well-known face stylisation
network; to check that claim on the same machine we need the peer's exact layer shapes, not its
weights. The layout follows bryandlee/animegan2-pytorch: reflect-padded convolutions with
GroupNorm(1, C) and LeakyReLU(0.2), MobileNetV2-style inverted residual blocks (expansion 2),
two stride-2 stages down, bilinear (align_corners=True) upsampling back, then a 1×1 conv + tanh.
Weights are random: outputs are meaningless, cost is identical.

    python -m benchmarks.animegan    # prints the parameter count (about 2.14 M)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_norm_lrelu(cin: int, cout: int, kernel: int = 3, stride: int = 1,
                    padding: int | tuple[int, int, int, int] = 1, groups: int = 1,
                    bias: bool = False) -> nn.Sequential:
    """Reflect pad → conv → GroupNorm(1, C) → LeakyReLU(0.2): the peer's basic unit.

    Padding is a separate layer (not ``padding_mode``) because the stride-2 layers pad
    asymmetrically, (left, right, top, bottom) = (0, 1, 0, 1), like TensorFlow's "same".
    """
    return nn.Sequential(
        nn.ReflectionPad2d(padding),
        nn.Conv2d(cin, cout, kernel, stride, padding=0, groups=groups, bias=bias),
        nn.GroupNorm(1, cout, affine=True),
        nn.LeakyReLU(0.2, inplace=True),
    )


class InvertedResidual(nn.Module):
    """1×1 expand (×2) → 3×3 depthwise → 1×1 project + GroupNorm, residual when shapes match."""

    def __init__(self, cin: int, cout: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = cin * expansion
        self.residual = cin == cout
        self.layers = nn.Sequential(
            conv_norm_lrelu(cin, hidden, kernel=1, padding=0),
            conv_norm_lrelu(hidden, hidden, groups=hidden, bias=True),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.GroupNorm(1, cout, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + y if self.residual else y


class AnimeGANv2(nn.Module):
    """Image in [-1, 1] (N×3×H×W, H and W even) → stylised image in [-1, 1], full resolution."""

    def __init__(self) -> None:
        super().__init__()
        down = (0, 1, 0, 1)
        self.block_a = nn.Sequential(conv_norm_lrelu(3, 32, kernel=7, padding=3),
                                     conv_norm_lrelu(32, 64, stride=2, padding=down),
                                     conv_norm_lrelu(64, 64))
        self.block_b = nn.Sequential(conv_norm_lrelu(64, 128, stride=2, padding=down),
                                     conv_norm_lrelu(128, 128))
        self.block_c = nn.Sequential(conv_norm_lrelu(128, 128),
                                     InvertedResidual(128, 256),
                                     *[InvertedResidual(256, 256) for _ in range(3)],
                                     conv_norm_lrelu(256, 128))
        self.block_d = nn.Sequential(conv_norm_lrelu(128, 128), conv_norm_lrelu(128, 128))
        self.block_e = nn.Sequential(conv_norm_lrelu(128, 64), conv_norm_lrelu(64, 64),
                                     conv_norm_lrelu(64, 32, kernel=7, padding=3))
        self.out = nn.Conv2d(32, 3, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.block_a(x)
        y = self.block_c(self.block_b(a))
        y = F.interpolate(y, size=a.shape[-2:], mode="bilinear", align_corners=True)
        y = F.interpolate(self.block_d(y), size=x.shape[-2:], mode="bilinear", align_corners=True)
        return torch.tanh(self.out(self.block_e(y)))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    print(f"AnimeGANv2 face_paint_512_v2 generator: {parameter_count(AnimeGANv2()):,} parameters")
