"""Guided patch synthesis: paint a target with patches of one source image (StyLit, Fišer et al. 2016).

The three parts are kept apart, as in ebsynth: *guides* say what each pixel is (built by
:mod:`portrait.guides`), the *nearest-neighbour field* (PatchMatch, Barnes et al. 2009) says which
source patch each target patch copies, and *voting* averages the overlapping copies into pixels.

Every pixel of both images carries the same channels: the style's colours first (the source's
pixels; for the target, the current estimate), then the guides. A patch's cost is the weighted sum
of squared differences over a :data:`PATCH`² window plus an occupancy penalty (Kaspar et al. 2015):
each other target patch already using a source patch makes it dearer, which keeps the synthesis
from washing out into a few flat patches. Coarse to fine, each level runs a few EM steps
(PatchMatch, then vote) and hands its field up.

Deterministic under a seed: random candidates come from a hash of (seed, pass, pixel, draw), and
the occupancy is frozen during a pass, so the result does not depend on how threads interleave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
import torch.nn.functional as F

PATCH = 5
RADIUS = PATCH // 2


@dataclass(frozen=True)
class Schedule:
    """Coarse-to-fine plan: one (EM steps, PatchMatch passes) pair per level, coarsest first.

    The finest level costs most (four times the level below); the prototype found one or two EM
    steps there look the same as more.
    """

    levels: tuple[tuple[int, int], ...] = ((5, 2), (4, 2), (3, 2), (1, 1))
    occupancy: float = 0.002  #: cost of each extra use of a source pixel, per patch pixel (SSD units)
    random_draws: int = 1  #: random-search candidates per radius (the radius halves from search_radius)
    sharp: bool = True  #: finish with each pixel from its cheapest covering patch instead of a mean
    search_radius: int = 32  #: widest random search, in pixels of each level (the coarsest sees all)


@numba.njit(inline="always")
def _hash(seed: int, a: int, b: int, c: int) -> float:
    """A uniform number in [0, 1) from four integers (splitmix64 finaliser)."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    z ^= np.uint64(a) * np.uint64(0xBF58476D1CE4E5B9)
    z ^= np.uint64(b) * np.uint64(0x94D049BB133111EB)
    z ^= np.uint64(c) * np.uint64(0xD6E8FEB86659FD93)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) / 9007199254740992.0


@numba.njit(inline="always")
def _cost(source, target, weights, ty, tx, sy, sx, limit):
    """Weighted SSD between the target patch at (ty, tx) and the source patch at (sy, sx).

    Source centres are kept RADIUS away from the border, so only the target patch is clipped.
    Gives up (returns the partial sum) once ``limit`` is passed.
    """
    h, w, c = target.shape
    total = 0.0
    for dy in range(-RADIUS, RADIUS + 1):
        y = ty + dy
        if y < 0 or y >= h:
            continue
        for dx in range(-RADIUS, RADIUS + 1):
            x = tx + dx
            if x < 0 or x >= w:
                continue
            for k in range(c):
                d = target[y, x, k] - source[sy + dy, sx + dx, k]
                total += weights[ty, tx, k] * d * d
        if total > limit:
            return total
    return total


@numba.njit(parallel=True, cache=False)
def _patchmatch_pass(source, target, weights, valid, nnf, cost, usage, occupancy, prior,
                     seed, iteration, draws, widest):
    """One PatchMatch pass over bands of rows in parallel: propagation from the neighbours already
    visited (left/up on even passes, right/down on odd), a jump to the prior's guess, then random
    search around the best with a halving radius. ``nnf`` and ``cost`` are updated in place."""
    h, w = nnf.shape[:2]
    hs, ws = valid.shape
    bands = max(1, min(h, numba.get_num_threads() * 4))
    step = 1 if iteration % 2 == 0 else -1
    area = PATCH * PATCH
    for band in numba.prange(bands):
        y0 = band * h // bands
        y1 = (band + 1) * h // bands
        for i in range(y1 - y0):
            ty = y0 + i if step == 1 else y1 - 1 - i
            for j in range(w):
                tx = j if step == 1 else w - 1 - j
                best_y, best_x = nnf[ty, tx, 0], nnf[ty, tx, 1]
                best = cost[ty, tx]
                # candidates: neighbours' matches shifted by one, the prior's guess
                for n in range(3):
                    if n == 0:
                        ny, nx = ty, tx - step
                    elif n == 1:
                        ny, nx = ty - step, tx
                    else:
                        ny, nx = -1, -1
                    if n < 2:
                        if ny < y0 or ny >= y1 or nx < 0 or nx >= w:
                            continue
                        cy = nnf[ny, nx, 0] + (ty - ny)
                        cx = nnf[ny, nx, 1] + (tx - nx)
                    else:
                        if prior[ty, tx, 0] < 0:
                            continue
                        cy, cx = prior[ty, tx, 0], prior[ty, tx, 1]
                    if cy < 0 or cy >= hs or cx < 0 or cx >= ws or not valid[cy, cx]:
                        continue
                    if cy == best_y and cx == best_x:
                        continue
                    penalty = occupancy * area * usage[cy, cx]
                    d = _cost(source, target, weights, ty, tx, cy, cx, best - penalty) + penalty
                    if d < best:
                        best, best_y, best_x = d, cy, cx
                radius = min(max(hs, ws) // 2, widest)
                k = 0
                while radius >= 1:
                    for _ in range(draws):
                        ry = _hash(seed, iteration * 131 + k, ty, tx)
                        rx = _hash(seed + 7, iteration * 131 + k, ty, tx)
                        k += 1
                        cy = best_y + int((2 * ry - 1) * radius)
                        cx = best_x + int((2 * rx - 1) * radius)
                        if cy < 0 or cy >= hs or cx < 0 or cx >= ws or not valid[cy, cx]:
                            continue
                        penalty = occupancy * area * usage[cy, cx]
                        d = _cost(source, target, weights, ty, tx, cy, cx, best - penalty) + penalty
                        if d < best:
                            best, best_y, best_x = d, cy, cx
                    radius //= 2
                nnf[ty, tx, 0], nnf[ty, tx, 1] = best_y, best_x
                cost[ty, tx] = best


@numba.njit(parallel=True, cache=False)
def _costs(source, target, weights, nnf, usage, occupancy):
    """Every target patch's cost under the current field (after the field or the target changed)."""
    h, w = nnf.shape[:2]
    out = np.empty((h, w), np.float32)
    area = PATCH * PATCH
    for ty in numba.prange(h):
        for tx in range(w):
            sy, sx = nnf[ty, tx, 0], nnf[ty, tx, 1]
            out[ty, tx] = _cost(source, target, weights, ty, tx, sy, sx, np.inf) \
                + occupancy * area * usage[sy, sx]
    return out


@numba.njit(cache=False)
def _usage(nnf, hs, ws):
    """How many target pixels each source pixel's patch would cover (counts every patch pixel)."""
    usage = np.zeros((hs, ws), np.float32)
    h, w = nnf.shape[:2]
    for ty in range(h):
        for tx in range(w):
            sy, sx = nnf[ty, tx, 0], nnf[ty, tx, 1]
            for dy in range(-RADIUS, RADIUS + 1):
                for dx in range(-RADIUS, RADIUS + 1):
                    usage[sy + dy, sx + dx] += 1.0 / (PATCH * PATCH)
    return usage


@numba.njit(parallel=True, cache=False)
def _vote(style, nnf):
    """Each target pixel: the mean of what every patch covering it copied there."""
    h, w = nnf.shape[:2]
    c = style.shape[2]
    out = np.zeros((h, w, c), np.float32)
    for ty in numba.prange(h):
        for tx in range(w):
            n = 0
            for dy in range(-RADIUS, RADIUS + 1):
                py = ty - dy
                if py < 0 or py >= h:
                    continue
                for dx in range(-RADIUS, RADIUS + 1):
                    px = tx - dx
                    if px < 0 or px >= w:
                        continue
                    sy = nnf[py, px, 0] + dy
                    sx = nnf[py, px, 1] + dx
                    for k in range(c):
                        out[ty, tx, k] += style[sy, sx, k]
                    n += 1
            for k in range(c):
                out[ty, tx, k] /= n
    return out


@numba.njit(parallel=True, cache=False)
def _vote_best(style, nnf, cost):
    """Each target pixel from the cheapest patch covering it, unaveraged: the source's own
    brushwork at full sharpness (averaging overlapping copies blurs fine hatching to grey)."""
    h, w = nnf.shape[:2]
    c = style.shape[2]
    out = np.zeros((h, w, c), np.float32)
    for ty in numba.prange(h):
        for tx in range(w):
            best, by, bx = np.inf, 0, 0
            for dy in range(-RADIUS, RADIUS + 1):
                py = ty - dy
                if py < 0 or py >= h:
                    continue
                for dx in range(-RADIUS, RADIUS + 1):
                    px = tx - dx
                    if px < 0 or px >= w or cost[py, px] >= best:
                        continue
                    best, by, bx = cost[py, px], nnf[py, px, 0] + dy, nnf[py, px, 1] + dx
            for k in range(c):
                out[ty, tx, k] = style[by, bx, k]
    return out


def _resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """H×W×C float array resampled to ``size`` (H, W): area when shrinking, bilinear when growing."""
    x = torch.from_numpy(np.ascontiguousarray(array, np.float32)).permute(2, 0, 1)[None]
    mode = "area" if size[0] < array.shape[0] else "bilinear"
    y = F.interpolate(x, size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return np.ascontiguousarray(y[0].permute(1, 2, 0).numpy())


def _snap(nnf: np.ndarray, valid: np.ndarray, seed: int) -> np.ndarray:
    """Replace matches that point at invalid source centres by random valid ones."""
    ys, xs = np.nonzero(valid)
    bad = ~valid[nnf[..., 0].clip(0, valid.shape[0] - 1), nnf[..., 1].clip(0, valid.shape[1] - 1)]
    bad |= (nnf < 0).any(-1) | (nnf[..., 0] >= valid.shape[0]) | (nnf[..., 1] >= valid.shape[1])
    if bad.any():
        pick = np.random.default_rng(seed).integers(0, len(ys), int(bad.sum()))
        nnf[bad] = np.stack([ys[pick], xs[pick]], axis=1)
    return nnf


def _centres(mask: np.ndarray) -> np.ndarray:
    """Source pixels allowed as patch centres: inside ``mask`` with the whole patch in the image."""
    valid = mask.copy()
    valid[:RADIUS], valid[-RADIUS:], valid[:, :RADIUS], valid[:, -RADIUS:] = False, False, False, False
    if not valid.any():
        raise ValueError("the source has no usable patch")
    return valid


def synthesize(source_style: np.ndarray, source_guides: np.ndarray, target_guides: np.ndarray,
               weights: np.ndarray, source_mask: np.ndarray, prior: np.ndarray | None = None,
               start: np.ndarray | None = None, schedule: Schedule = Schedule(), seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Paint the target with the source's patches; returns (H×W×S style, H×W×2 field).

    ``source_style``: Hs×Ws×S (the exemplar's colours, any scale); ``source_guides`` and
    ``target_guides``: the same G guide channels for both images; ``weights``: H×W×(S+G), each
    target pixel's weight of every channel (the style channels weigh the coherence with the current
    estimate); ``source_mask``: the source pixels that may be copied; ``prior``: H×W×2 integer
    source positions that the positional guide expects (tried at every pass), or None; ``start``:
    the target's first style estimate (default: the source's mean colour).
    """
    hs, ws = source_mask.shape
    h, w = target_guides.shape[:2]
    source = np.concatenate([source_style, source_guides], axis=2).astype(np.float32)
    styles = source_style.shape[2]
    if start is None:
        start = np.broadcast_to(source_style[source_mask].mean(0), (h, w, styles))
    levels = len(schedule.levels)
    nnf = None
    estimate = np.asarray(start, np.float32)
    for level, (em_steps, passes) in enumerate(schedule.levels):
        factor = 2 ** (levels - 1 - level)
        size_t = (max(PATCH, h // factor), max(PATCH, w // factor))
        size_s = (max(PATCH + 1, hs // factor), max(PATCH + 1, ws // factor))
        src = _resize(source, size_s)
        valid = _centres(_resize(source_mask[..., None].astype(np.float32), size_s)[..., 0] > 0.99)
        tgt_guides = _resize(target_guides, size_t)
        wts = _resize(weights, size_t)
        est = _resize(estimate, size_t)
        scale = np.array([size_s[0] / hs, size_s[1] / ws])
        pri = (np.full((*size_t, 2), -1, np.int32) if prior is None else
               np.rint(_resize(prior.astype(np.float32), size_t) * scale).astype(np.int32))
        if nnf is None:  # coarsest level: start from the prior, or anywhere
            nnf = pri.copy() if prior is not None else np.full((*size_t, 2), -1, np.int32)
        else:  # the field one level up, doubled
            grown = np.repeat(np.repeat(nnf, 2, axis=0), 2, axis=1)[: size_t[0], : size_t[1]] * 2
            grown += np.stack(np.meshgrid(np.arange(size_t[0]) % 2, np.arange(size_t[1]) % 2,
                                          indexing="ij"), axis=2)
            nnf = np.pad(grown, ((0, size_t[0] - grown.shape[0]), (0, size_t[1] - grown.shape[1]), (0, 0)),
                         mode="edge").astype(np.int32)
        nnf = np.ascontiguousarray(_snap(nnf, valid, seed + level))
        pass_index = 0
        for _ in range(em_steps):
            target = np.ascontiguousarray(np.concatenate([est, tgt_guides], axis=2), np.float32)
            usage = _usage(nnf, *size_s)
            cost = _costs(src, target, wts, nnf, usage, np.float32(schedule.occupancy))
            for _ in range(passes):
                _patchmatch_pass(src, target, wts, valid, nnf, cost, usage, np.float32(schedule.occupancy),
                                 pri, seed, level * 1000 + pass_index, schedule.random_draws,
                                 schedule.search_radius)
                pass_index += 1
                usage = _usage(nnf, *size_s)  # the next pass prices the new field's usage
            est = _vote(np.ascontiguousarray(src[..., :styles]), nnf)
        estimate = est
    if schedule.sharp:
        estimate = _vote_best(np.ascontiguousarray(source_style, np.float32), nnf, cost)
    return estimate, nnf
