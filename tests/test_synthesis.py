"""Guided patch synthesis and its guides, on images that ship inside scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from portrait.colour import blur, kuwahara, lab_to_rgb, rgb_to_lab
from portrait.guides import REGIONS, _paths, regions, thin_plate
from portrait.synthesis import PATCH, Schedule, synthesize

SIDE = 128


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """The astronaut at 128², floats in [0, 1]."""
    from PIL import Image

    return np.asarray(Image.fromarray(data.astronaut()).resize((SIDE, SIDE)), np.float32) / 255


def guides_of(image: np.ndarray) -> np.ndarray:
    """Position and blurred lightness: enough for an image to find itself."""
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    return np.stack([ys, xs, blur(image.mean(-1), 1.5)], axis=-1)


def run(source: np.ndarray, target_guides: np.ndarray, seed: int = 0, **schedule) -> tuple:
    weights = np.ones((SIDE, SIDE, 6), np.float32)
    weights[..., 3:5] = 200  # a pixel off costs about what a colour error of 0.02 does
    return synthesize(source, guides_of(source), target_guides, weights, np.ones((SIDE, SIDE), bool),
                      seed=seed, schedule=Schedule(**schedule))


def test_an_exemplar_reconstructs_itself(picture: np.ndarray) -> None:
    """Guided by its own guides, the synthesis finds every patch where it came from."""
    out, field = run(picture, guides_of(picture))
    assert np.abs(out - picture).mean() < 0.01
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    assert ((field[..., 0] == ys) & (field[..., 1] == xs)).mean() > 0.9


def test_the_output_is_made_of_the_source(picture: np.ndarray) -> None:
    """Painting another target still only copies the source's pixels (a sharp finish)."""
    target = guides_of(np.ascontiguousarray(picture[::-1]))
    out, field = run(picture, target)
    assert field.min() >= PATCH // 2 and field.max() < SIDE - PATCH // 2
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert all(tuple(c) in colours for c in out.reshape(-1, 3)[::7])


def test_the_same_seed_gives_the_same_painting_and_another_seed_may_not(picture: np.ndarray) -> None:
    target = guides_of(np.ascontiguousarray(picture[:, ::-1]))
    first, second, other = (run(picture, target, seed=s)[1] for s in (3, 3, 4))
    np.testing.assert_array_equal(first, second)
    assert (first != other).any()


def test_occupancy_spreads_the_patches_used(picture: np.ndarray) -> None:
    """A flat target would copy one flat source patch everywhere; the usage term spreads it."""
    flat = np.repeat(guides_of(picture)[:1, :1], SIDE, 0).repeat(SIDE, 1)
    used = [len(np.unique(run(picture, flat, occupancy=o)[1].reshape(-1, 2), axis=0)) for o in (0.0, 0.01)]
    assert used[1] > 2 * used[0]


def test_thin_plate_is_the_identity_on_matching_points_and_follows_a_shift() -> None:
    points = np.array([[200, 200], [300, 200], [250, 260], [220, 320], [280, 320]], np.float64)
    same = thin_plate(points, points, 512)
    ys, xs = np.mgrid[0:512, 0:512]
    assert np.abs(same - np.stack([ys, xs], -1)).max() < 6  # pixel centres of a 64² solve
    moved = thin_plate(points, points + [10, -6], 512)
    y, x = 250, 250
    assert moved[y, x, 1] - same[y, x, 1] == pytest.approx(10, abs=1.5)
    assert moved[y, x, 0] - same[y, x, 0] == pytest.approx(-6, abs=1.5)
    assert np.abs(moved[2, 2] - same[2, 2]).max() < 1.5  # the frame's border holds still


def test_regions_from_a_synthetic_mesh() -> None:
    """A made-up mesh of polygons: each region lands where its outline is, and they sum to one."""
    mesh = np.zeros((478, 2), np.float32)
    ring = lambda cx, cy, r, n: [(cx + r * np.cos(t), cy + r * np.sin(t))  # noqa: E731
                                 for t in np.linspace(0, 2 * np.pi, n, endpoint=False)]
    mesh[0:20] = ring(64, 64, 40, 20)  # the face oval
    mesh[20:28] = ring(50, 55, 8, 8)  # an eye
    mesh[28:32] = ring(50, 55, 3, 4)  # its iris
    mesh[32:40] = ring(64, 90, 12, 8)  # lips, outer
    mesh[40:48] = ring(64, 90, 5, 8)  # lips, inner
    loops = {"oval": list(range(20)), "eyes": [list(range(20, 28))], "irises": [list(range(28, 32))],
             "brows": [], "lips": [list(range(32, 40)), list(range(40, 48))]}
    person = np.zeros((SIDE, SIDE), np.float32)
    person[20:, 10:118] = 1
    ys, xs = np.mgrid[0:SIDE, 0:SIDE]
    face = (ys - 64) ** 2 + (xs - 64) ** 2 < 40**2
    # skin colour inside the oval only: nothing beyond it looks like skin
    lab = np.where(face[..., None], np.float32([60, 15, 20]), np.float32([30, 0, 0]))
    masks = regions(mesh, person, loops, softness=1.0, lab=lab)
    assert masks.shape == (SIDE, SIDE, len(REGIONS))
    np.testing.assert_allclose(masks.sum(-1), 1, atol=1e-3)
    name = lambda y, x: REGIONS[int(masks[y, x].argmax())]  # noqa: E731
    assert (name(5, 5), name(64, 64), name(55, 50), name(90, 64), name(86, 56)) == (
        "background", "skin", "irises", "mouth", "lips")
    assert name(125, 15) == "body" and name(30, 20) == "hair"

    # a forehead or neck outside the oval that has the face's colour is skin; dark hair beside it
    # stays hair
    lab = np.zeros((SIDE, SIDE, 3), np.float32)
    lab[...] = (60, 15, 20)
    lab[20:40, 10:40] = (20, 2, 3)
    coloured = regions(mesh, person, loops, softness=1.0, lab=lab)
    name = lambda y, x: REGIONS[int(coloured[y, x].argmax())]  # noqa: E731
    assert (name(22, 64), name(115, 64), name(30, 20), name(5, 5)) == ("skin", "skin", "hair", "background")


def test_edges_chain_into_loops_and_paths() -> None:
    loop = frozenset({(1, 2), (2, 3), (3, 1)})
    line = frozenset({(5, 6), (6, 7)})
    paths = _paths(loop | line)
    assert sorted(map(sorted, paths)) == [[1, 2, 3], [5, 6, 7]]


def test_lab_round_trip() -> None:
    pixels = data.astronaut()[::8, ::8]
    assert np.abs(lab_to_rgb(rgb_to_lab(pixels)).astype(int) - pixels).max() <= 1
    assert rgb_to_lab(np.array([255, 255, 255], np.uint8))[0] == pytest.approx(100, abs=0.01)


def test_kuwahara_flattens_texture_and_keeps_edges_crisp() -> None:
    """A noisy step: each side becomes nearly flat, and the step stays one pixel sharp (a blur
    of the same reach would spread it over several)."""
    rng = np.random.default_rng(0)
    step = np.where(np.arange(64)[None, :] < 32, 30.0, 70.0).repeat(64, 0).astype(np.float32)
    noisy = step + rng.normal(0, 3, step.shape).astype(np.float32)
    flat = kuwahara(noisy, 6)
    for side, level in ((np.s_[8:-8, 8:28], 30), (np.s_[8:-8, 36:56], 70)):
        assert flat[side].std() < 0.5 * noisy[side].std() and abs(flat[side].mean() - level) < 1
    assert np.abs(flat[8:-8, 31] - 30).max() < 4 and np.abs(flat[8:-8, 32] - 70).max() < 4
    np.testing.assert_allclose(kuwahara(np.full((16, 16), 5.0, np.float32), 4), 5.0, atol=1e-4)
