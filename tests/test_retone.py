"""Re-toning a frame's regions to the sitter's colours, on synthetic frames of flat regions."""

from __future__ import annotations

import numpy as np
import pytest

from portrait.guides import REGIONS, Guides
from portrait.masters import CHROMA, _kept_from_life, retone

SIDE = 64


def flat_regions(colours: dict[str, tuple[float, float, float]]) -> tuple[np.ndarray, Guides]:
    """A frame of skin with an iris block, a lips block and (if coloured) a mouth block, as
    L*a*b* and as guides."""
    masks = np.zeros((SIDE, SIDE, len(REGIONS)), np.float32)
    masks[..., REGIONS.index("skin")] = 1
    blocks = {"irises": (slice(8, 24), slice(8, 24)), "lips": (slice(40, 56), slice(24, 40)),
              "mouth": (slice(40, 56), slice(44, 60))}
    blocks = {name: block for name, block in blocks.items() if name in colours}
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


def test_irises_and_teeth_are_the_photos_own_pixel_by_pixel_where_it_is_seen() -> None:
    """Re-toning moves a region's mean, so a master's blue-grey iris texture survived it on
    brown-eyed sitters, and its teeth came out yellow: the irises and the mouth are the photo's
    own pixels (a dark pupil, a catchlight, white teeth), their colour shifted as the painting's
    skin is from the sitter's; beyond the photo, the painting's; the lips stay the painting's."""
    painted, guides = flat_regions({"skin": (62, 12, 16), "irises": (35, -4, -20), "lips": (50, 30, 20),
                                    "mouth": (70, 5, 30)})
    photo, _ = flat_regions({"skin": (55, 20, 26), "irises": (30, 8, 12), "lips": (45, 22, 22),
                             "mouth": (85, 0, 4)})
    photo[14:18, 11:15] = (8, 2, 2)  # a pupil and a catchlight: detail a region's mean cannot carry
    photo[12, 12] = (90, 0, 0)
    seen = np.ones((SIDE, SIDE), np.float32)
    seen[:, 20:24] = 0  # the iris's right edge lies beyond the photo
    kept = _kept_from_life(painted, photo, guides, seen, "oil")
    shift = np.array([0, 12 - 20, 16 - 26], np.float32)
    for core in ((slice(10, 22), slice(10, 18)), (slice(42, 54), slice(46, 58))):  # iris, mouth
        np.testing.assert_allclose(kept[core], photo[core] + shift, atol=0.5)
    np.testing.assert_allclose(kept[10:22, 20:24], painted[10:22, 20:24], atol=0.5)  # not seen
    np.testing.assert_allclose(kept[42:54, 26:38], painted[42:54, 26:38], atol=0.5)  # lips


def test_a_style_without_the_sitters_colour_takes_only_their_lightness() -> None:
    """Ink takes no colour from the sitter (CHROMA 0): a blue iris in the photo must not turn
    blue in a sepia drawing; the pupil's dark and the catchlight are still the photo's."""
    painted, guides = flat_regions({"skin": (62, 3, 12), "irises": (35, 2, 10), "lips": (50, 4, 12)})
    photo, _ = flat_regions({"skin": (55, 20, 26), "irises": (45, -5, -25), "lips": (45, 22, 22)})
    kept = _kept_from_life(painted, photo, guides, np.ones((SIDE, SIDE), np.float32), "ink")
    core = (slice(10, 22), slice(10, 22))
    np.testing.assert_allclose(kept[core][..., 0], photo[core][..., 0], atol=0.5)
    np.testing.assert_allclose(kept[core][..., 1:], painted[core][..., 1:], atol=0.5)
