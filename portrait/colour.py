"""Colour and smoothing helpers shared by the master painter and its measures.

CIE L*a*b* (D65) because skin tone is judged in it (L* lightness, the ITA angle), and because
re-toning a master to a sitter must move lightness and colour separately.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])
_EPSILON, _KAPPA = 216 / 24389, 24389 / 27


def _linear(c: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] → linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


#: Linear light of each 8-bit sRGB value: a uint8 frame is linearised by lookup.
_LINEAR = _linear(np.arange(256) / 255).astype(np.float32)
#: sRGB → XYZ with the white point divided out, in float32: the frames are converted in float32
#: (half the time of float64; L*a*b* differ by under 1e-4).
_TO_XYZ_WHITE = (_RGB_TO_XYZ.T / _WHITE).astype(np.float32)
_FROM_XYZ_WHITE = (_WHITE[:, None] * np.linalg.inv(_RGB_TO_XYZ).T).astype(np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (…×3, uint8 or floats in [0, 1]) → L*a*b* (float32)."""
    rgb = np.asarray(rgb)
    linear = _LINEAR[rgb] if rgb.dtype == np.uint8 else _linear(rgb.astype(np.float32))
    t = linear @ _TO_XYZ_WHITE
    f = np.where(t > _EPSILON, np.cbrt(t), (_KAPPA * t + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
                    axis=-1).astype(np.float32)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """L*a*b* → sRGB uint8 (out-of-gamut colours clipped)."""
    lab = np.asarray(lab, np.float32)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    t = np.where(f ** 3 > _EPSILON, f ** 3, (116 * f - 16) / _KAPPA)
    linear = np.clip(t @ _FROM_XYZ_WHITE, 0, 1)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(c * 255), 0, 255).astype(np.uint8)


def blurred(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur (reflect-padded, ±3σ) of an N×C×H×W tensor."""
    radius = max(1, round(3 * sigma))
    taps = torch.exp(-torch.arange(-radius, radius + 1, device=image.device).float().pow(2) / (2 * sigma**2))
    taps = (taps / taps.sum()).to(image.dtype)
    c = image.shape[1]
    image = F.pad(image, (radius,) * 4, mode="reflect")
    image = F.conv2d(image, taps.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(image, taps.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`blurred` for an H×W or H×W×C numpy array."""
    x = torch.from_numpy(np.ascontiguousarray(array, np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    y = blurred(x, sigma)[0]
    return (y[0] if np.ndim(array) == 2 else y.permute(1, 2, 0)).numpy()


def kuwahara(light: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel of an H×W array set to the mean of whichever of its four (radius+1)² corner
    windows varies least (Kuwahara et al. 1976): flat planes with crisp edges between them, the
    simplification a painter makes of a face, where a photograph has pores and smooth gradients."""
    x = torch.from_numpy(np.ascontiguousarray(light, np.float32))[None, None]
    padded = F.pad(x, (radius,) * 4, mode="reflect")
    moments = F.avg_pool2d(torch.cat([padded, padded * padded], 1), radius + 1, stride=1)
    mean, spread = moments[:, :1], moments[:, 1:] - moments[:, :1] ** 2
    h, w = light.shape
    best, best_spread = mean[..., :h, :w], spread[..., :h, :w]
    for oy, ox in ((0, radius), (radius, 0), (radius, radius)):  # the first window wins a tie
        window = spread[..., oy:oy + h, ox:ox + w]
        calmer = window < best_spread
        best = torch.where(calmer, mean[..., oy:oy + h, ox:ox + w], best)
        best_spread = torch.where(calmer, window, best_spread)
    return best[0, 0].numpy()
