"""Re-toning a frame's regions to the sitter's colours, on synthetic frames of flat regions."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.guides import REGIONS, Guides
from portrait.masters import CHROMA, _kept_from_life, retone

SIDE = 64


def flat_regions(colours: dict[str, tuple[float, float, float]]) -> tuple[np.ndarray, Guides]:
    """A frame of skin with an iris block and a lips block, as L*a*b* and as guides."""
    masks = np.zeros((SIDE, SIDE, len(REGIONS)), np.float32)
    masks[..., REGIONS.index("skin")] = 1
    blocks = {"irises": (slice(8, 24), slice(8, 24)), "lips": (slice(40, 56), slice(24, 40))}
    for name, block in blocks.items():
        masks[block] = 0
        masks[block + (REGIONS.index(name),)] = 1
    lab = np.empty((SIDE, SIDE, 3), np.float32)
    lab[:] = colours["skin"]
    for name, block in blocks.items():
        lab[block] = colours[name]
    mesh = np.zeros((478, 2), np.float32)
    mesh[10], mesh[0] = (32, 0), (32, SIDE)  # skin tone measured over the whole frame
    return lab, Guides.of(mesh, np.ones((SIDE, SIDE), np.float32), masks)


def mean_of(lab: np.ndarray, guides: Guides, name: str) -> np.ndarray:
    inside = guides.region(name) > 0.99
    return lab[inside].mean(0)


@pytest.mark.parametrize("sitter_colours", [
    {"skin": (55, 15, 25), "irises": (30, 5, 10), "lips": (45, 22, 22)},  # brown eyes, bare lips
    {"skin": (55, 0, 0), "irises": (30, 0, 0), "lips": (45, 0, 0)},  # a black-and-white photo
])
def test_eyes_and_lips_keep_the_sitters_own_difference_from_the_skin(sitter_colours) -> None:
    """A master with blue eyes and rouged lips: after re-toning, the painting's irises and lips
    differ from its skin as the sitter's do (no blue eyes, no rouge, no blue lips on a grey
    photo), with the sitter's lightness; the skin takes the style's share of the sitter's colour."""
    master_lab, master = flat_regions({"skin": (70, 20, 20), "irises": (40, -5, -30), "lips": (50, 50, 20)})
    photo_lab, sitter = flat_regions(sitter_colours)
    toned = retone(master_lab, master, sitter, photo_lab, "oil")
    skin = mean_of(toned, master, "skin")
    wanted_skin = 20 + CHROMA["oil"] * (np.array(sitter_colours["skin"][1:]) - 20)
    np.testing.assert_allclose(skin[1:], wanted_skin, atol=0.5)
    assert skin[0] == pytest.approx(sitter_colours["skin"][0], abs=0.5)
    for name in ("irises", "lips"):
        ours = mean_of(toned, master, name)
        wanted = np.array(sitter_colours[name], np.float32) - sitter_colours["skin"]
        np.testing.assert_allclose(ours[1:] - skin[1:], wanted[1:], atol=0.5)
        assert ours[0] == pytest.approx(sitter_colours[name][0], abs=0.5)


def test_irises_are_the_photos_own_pixel_by_pixel_where_it_is_seen() -> None:
    """Re-toning moves a region's mean, so a master's blue-grey iris texture survived it on
    brown-eyed sitters: the irises are the photo's own pixels (a dark pupil, a catchlight), their
    colour shifted as the painting's skin is from the sitter's; beyond the photo, the painting."""
    painted, guides = flat_regions({"skin": (62, 12, 16), "irises": (35, -4, -20), "lips": (50, 30, 20)})
    photo, _ = flat_regions({"skin": (55, 20, 26), "irises": (30, 8, 12), "lips": (45, 22, 22)})
    photo[14:18, 14:18] = (8, 2, 2)  # a pupil with a catchlight: detail the mean cannot carry
    photo[12, 12] = (90, 0, 0)
    seen = np.ones((SIDE, SIDE), np.float32)
    seen[:, 16:] = 0  # the right half of the iris lies beyond the photo
    kept = _kept_from_life(painted, photo, guides, seen)
    core = (slice(10, 22), slice(10, 13))  # seen, inside the iris, away from its soft edge
    shift = np.array([0, 12 - 20, 16 - 26], np.float32)
    np.testing.assert_allclose(kept[core], photo[core] + shift, atol=0.5)
    np.testing.assert_allclose(kept[10:22, 18:22], painted[10:22, 18:22], atol=0.5)
    np.testing.assert_allclose(kept[40:56, 24:40], painted[40:56, 24:40], atol=0.5)  # lips untouched
