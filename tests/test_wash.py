"""The watercolour finish (portrait.wash) on synthetic paintings."""

from __future__ import annotations

import numpy as np

from portrait.colour import rgb_to_lab
from portrait.wash import ON_FEATURES, RELIEF, paper, wash

SIDE = 128


def test_a_flat_wash_gets_grain_but_keeps_its_tone_and_hue() -> None:
    """A flat grey wash comes back grainy (paper), as grey as it was (no hue added) and, on the
    mean, as light: only the edges of washes darken, where pigment pools, so a flat skin keeps
    its tone."""
    grey = np.full((SIDE, SIDE, 3), 128, np.uint8)
    finished = wash(grey)
    assert finished.std() > 2
    assert np.abs(finished.astype(int) - finished[..., :1]).max() <= 1
    assert abs(rgb_to_lab(finished)[..., 0].mean() - rgb_to_lab(grey)[..., 0].mean()) < 1.0
    skin = np.zeros((SIDE, SIDE, 3), np.uint8) + np.array([150, 105, 80], np.uint8)
    lab, lab_skin = rgb_to_lab(wash(skin)), rgb_to_lab(skin)
    assert np.abs(lab.mean((0, 1)) - lab_skin.mean((0, 1))).max() < 1.0


def test_the_finish_is_deterministic_and_spares_the_features() -> None:
    rng = np.random.default_rng(0)
    painting = rng.integers(60, 200, (SIDE, SIDE, 3), dtype=np.uint8)
    features = np.zeros((SIDE, SIDE), np.float32)
    features[:, : SIDE // 2] = 1
    once, again = wash(painting, features), wash(painting, features)
    np.testing.assert_array_equal(once, again)
    change = np.abs(once.astype(np.float32) - painting)
    spared, finished = change[:, : SIDE // 2].mean(), change[:, SIDE // 2:].mean()
    assert spared < (ON_FEATURES + 0.15) * finished


def test_bare_white_paper_takes_no_pigment() -> None:
    """However dense the pigment, white stays paper: only the paper's relief lights or shades it."""
    white = np.full((SIDE, SIDE, 3), 255, np.uint8)
    relief = paper(SIDE)[2]
    lit = np.clip(np.rint(255 * (1 + RELIEF * relief)), 0, 255)
    np.testing.assert_array_equal(wash(white)[..., 0], lit)
