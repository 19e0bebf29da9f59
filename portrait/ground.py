"""The instant portrait after a master: the generator's sitter on the master's own ground.

The generator paints a sitter in tens of milliseconds and keeps the likeness, but what it paints
around them is the photo's room, filtered; judged blind, its portraits read as filtered photos.
The master painter's portraits read as paintings largely by what surrounds the face: a real
master's ground, costume and oval. Patch synthesis takes a second for that; here the master's own
painting is shown around the sitter as it is, which costs a blend.

Each master gets a **plate** once, when the library is read: its painting with its own sitter's
head taken out (hair, face and features, found by its guides) and filled from the ground around
it by push-pull (a mask-weighted image pyramid). A master's head left in place put its hair, caps
and curls around every visitor's face: judged blind, 4 of 84 votes for the likeness. The neck
below the chin stays, re-toned per visitor to their own skin.

A portrait is then three steps on the aligned frame:

1. **where the sitter is** (:func:`sitting`): the person the segmenter finds where the photo is
   seen (or, where it missed the sitter, a head-sized ellipse about FaceMesh's face) and the face
   itself up to a tight crop's edge, feathered;
2. **the sitter's own likeness and skin tone**, as the master painter restores them (in
   :meth:`portrait.masters.MasterPainter.study`): half the photo's mid-frequency shapes, its own
   irises and teeth (not in ink, whose pen lines they would wash out), and the skin, hair, brows
   and lips re-toned to the photo's: the generator alone lightened the darkest sitters most;
3. **on the plate**: the painting where the sitter is, the plate elsewhere.

All three are made at 256² and brought to 512² with the generator's finest detail
(:func:`sharpened`). Only the styles in :data:`portrait.masters.PLATED` are painted so: those that
won blind against the generator alone, both as a painting and as a likeness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from portrait.colour import blur, lab_to_rgb, rgb_to_lab
from portrait.guides import Guides

#: FaceMesh's face oval (its silhouette from forehead to chin).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
#: FaceMesh's chin: below it a master's skin is its neck, which stays on the plate.
CHIN = 152
#: The head kept about a face, in half the face oval's width and height, and how far it is raised
#: (hair grows above the forehead, not below the chin).
HEAD_WIDTH, HEAD_HEIGHT, HEAD_RAISED = 1.1, 1.2, 0.2
#: The regions of a master's head that are taken out of its plate (skin: above the chin only).
HEAD = ("hair", "brows", "eyes", "irises", "lips", "mouth")
#: A person mask that covers less of FaceMesh's face than this missed the sitter (white hair on a
#: pale wall); where it did not, the head ellipse only added a halo of the photo's room.
MISSED = 0.6
#: How much steeper the sitter's edge is made than the segmenter's.
EDGE = 3.0
#: The feather of the sitter's edge, in pixels at 512².
FEATHER = 6.0


@dataclass(frozen=True)
class Plate:
    """A master's painting without its sitter's head, and the neck kept to be re-toned."""

    image: np.ndarray  #: side²×3 uint8, the instant portrait's own size (38 plates: 7 MB)
    neck: np.ndarray  #: side² uint8 (0–255): the master's skin below the chin
    filled: np.ndarray  #: side² uint8 (0–255): where the head was taken out (no brushwork there)
    skin: np.ndarray  #: the master's skin colour (median L*, mean a*b*), the neck re-toned from it
    #: the plate at the frame's full size where its finest detail is not the frame's own: painted
    #: over by the generator (its brushwork everywhere; 22 oil plates: 17 MB); None: the frame's,
    #: but where filled
    fine: np.ndarray | None = None


def push_pull(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` (H×W×C float) with its unknown pixels filled from the known ones around them:
    each coarser level averages the known pixels below it, and each finer level takes what it
    does not know from the level above (Gortler et al. 1996). Smooth, and a few milliseconds."""
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]
    weight = torch.from_numpy(known.astype(np.float32))[None, None]
    pyramid = []
    while min(x.shape[-2:]) > 1 and weight.min() == 0:
        pyramid.append((x, weight))
        covered = F.avg_pool2d(weight, 2, ceil_mode=True)
        x = F.avg_pool2d(x * weight, 2, ceil_mode=True) / covered.clamp_min(1e-6)
        weight = (covered > 0).float()
    for finer, finer_weight in reversed(pyramid):
        coarse = F.interpolate(x, size=finer.shape[-2:], mode="bilinear", align_corners=False)
        x = finer * finer_weight + coarse * (1 - finer_weight)
    return x[0].permute(1, 2, 0).numpy()


def make_plate(frame: np.ndarray, inside: np.ndarray, guides: Guides | None, skin: np.ndarray | None,
               side: int, paint: Callable[[np.ndarray], np.ndarray] | None = None) -> Plate:
    """The plate of a master in the bust frame, at ``side``²; ``skin``: where its skin tone is
    measured (H×W weights: the neck is re-toned from the same measure as the sitter's skin);
    ``paint``: what paints it over, at full size (the generator in the plate's style). A medium
    exemplar (no guides: washes, a hatched ground) is all ground: its plate is the frame."""
    full = frame.shape[0]
    if guides is None:
        nothing = np.zeros((side, side), np.uint8)
        return Plate(resized(frame, side), nothing, nothing, np.zeros(3, np.float32))
    rows = np.arange(full, dtype=np.float32)[:, None]
    below_chin = np.clip((rows - guides.mesh[CHIN, 1]) / (12 * full / 512), 0, 1)
    skin_mask = guides.region("skin")
    head = guides.region(*HEAD) + skin_mask * (1 - below_chin)
    # the head's soft edge and a few pixels of halo go too; beyond the canvas (fill) is unknown
    hole = (blur((head > 0.3).astype(np.float32), 6 * full / 512) > 0.05) | ~inside
    filled = push_pull(frame.astype(np.float32), ~hole)
    image = np.where(hole[..., None], np.clip(np.rint(filled), 0, 255), frame).astype(np.uint8)
    neck = resized(_byte(blur(skin_mask * below_chin, 2 * full / 512)), side)
    fine = None if paint is None else paint(image)
    image = image if fine is None else fine
    colour = median_colour(rgb_to_lab(frame), skin)
    return Plate(resized(image, side), neck, resized(_byte(hole), side), colour, fine)


def _byte(mask: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(mask, 0, 1) * 255).astype(np.uint8)


def resized(image: np.ndarray, side: int) -> np.ndarray:
    """A uint8 image (H×W or H×W×3) resized to ``side``², bilinearly."""
    return np.array(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR))


@dataclass(frozen=True)
class Sitting:
    """What the instant portrait needs of one sitter in one aligned frame (the live mirror keeps
    it from one detection to the next: the frame does not move in between)."""

    guides: Guides  #: the frame's own
    keep: np.ndarray  #: H×W float32 in [0, 1]: where the sitter is painted, not the plate
    skin: np.ndarray  #: H×W float32: where skin tone is measured
    colour: np.ndarray  #: the photo's skin there: median L*, mean a*b* (the plate's neck is given it)


def head(guides: Guides, side: int) -> np.ndarray:
    """A head-sized ellipse about FaceMesh's face oval (H×W float32, 1 inside)."""
    oval = guides.mesh[list(FACE_OVAL)]
    centre, half = oval.mean(0), (oval.max(0) - oval.min(0)) / 2 + 1e-3
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    inside = (((x - centre[0]) / (HEAD_WIDTH * half[0])) ** 2
              + ((y - centre[1] + HEAD_RAISED * half[1]) / (HEAD_HEIGHT * half[1])) ** 2) < 1
    return inside.astype(np.float32)


def face_to_edge(face: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Every pixel of the ``face`` FaceMesh found (H×W, its soft mask) where the photo is ``seen``,
    up to a tight crop's edge: a tight crop's chin and cheeks are the sitter's, never the
    master's (a prototype gave beardless sitters the master's beard)."""
    return np.clip(face * 1.5 - 0.25, 0, 1) * seen


def sitting(photo_lab: np.ndarray, guides: Guides, trusted: np.ndarray, seen: np.ndarray,
            skin: np.ndarray) -> Sitting:
    """Where the sitter is in the frame (see the module's step 1). ``trusted``: the coverage the
    master painter trusts to show the photo (a crop's edge eroded); ``seen``: the coverage itself;
    ``skin``: where the sitter's skin tone is measured (H×W weights)."""
    side = photo_lab.shape[0]
    person = guides.person.astype(np.float32)
    face = 1 - guides.region("background", "hair", "body")
    if (face > 0.5).any() and person[face > 0.5].mean() < MISSED:  # missed: a head about the face
        person = np.maximum(person, blur(head(guides, side), 6 * side / 512))
    # the outer half of the segmenter's soft edge is mostly the photo's room: painted, it glowed
    # around the head on a master's dark ground (judged blind: "a glow halo")
    person = np.clip((person - 0.5) * EDGE + 0.5, 0, 1)
    keep = np.maximum(trusted * person, face_to_edge(face, seen))
    return Sitting(guides, blur(keep, FEATHER * side / 512), skin, median_colour(photo_lab, skin))


def median_colour(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """A frame's skin colour (photo or painting): the median L* (a painting's dark marks pull a
    mean down) and the mean a*b* under the ``skin`` weights."""
    colour = (lab * skin[..., None]).sum((0, 1)) / (skin.sum() + 1e-6)
    if (skin > 0.5).any():
        colour[0] = np.median(lab[..., 0][skin > 0.5])
    return colour


def toned(lab: np.ndarray, skin: np.ndarray, colour: np.ndarray, chroma: float) -> np.ndarray:
    """The quick re-toning (the live mirror's): ``lab`` moved so that its skin (``skin``: weights)
    has the median lightness and, by ``chroma``, the mean colour of the photo's (``colour``: its
    median L* and mean a*b*). The median, not the mean: a painting's dark brush marks pull its mean
    down, and matching means left the astronaut's cheeks 10 L* too light."""
    own = median_colour(lab, skin)
    if not (skin > 0.5).any():  # no skin to take a median of: the lightness is left as it is
        own[0] = colour[0]
    return lab + (colour - own) * np.array([1.0, chroma, chroma], np.float32)


def on_plate(lab: np.ndarray, sitter: Sitting, plate: Plate, chroma: float) -> np.ndarray:
    """The sitter's painting (H×W×3 L*a*b*, re-toned to the photo, at the plate's size) on ``plate``
    as uint8 RGB, the plate's neck given the sitter's skin; ``chroma``: how much of
    the skin's colour is the sitter's (0: lightness only, as for ink)."""
    weights = np.array([1.0, chroma, chroma], np.float32)
    ground = rgb_to_lab(plate.image)
    ground += (plate.neck.astype(np.float32) / 255)[..., None] * ((sitter.colour - plate.skin) * weights)
    return lab_to_rgb(ground + sitter.keep[..., None] * (lab - ground))


def scaled(image: np.ndarray, side: int) -> np.ndarray:
    """An H×W(×C) float image resized to ``side``² (area-averaged down, bilinear up)."""
    if image.shape[0] == side:
        return image
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)[0]
    return (x[0] if image.ndim == 2 else x.permute(1, 2, 0)).numpy()


def sharpened(small: np.ndarray, keep: np.ndarray, painted: np.ndarray, plate: Plate,
              frame: np.ndarray) -> np.ndarray:
    """The instant portrait made small (its guides, corrections and blend cost a quarter at 256²),
    brought to the side of the generator's ``painted`` frame (uint8): its colours from ``small``,
    its finest detail (what the small size lost) from ``painted`` where the sitter is (``keep``, at
    the small size) and elsewhere from the plate's own full size, or else from the master's
    ``frame`` (uint8, any side) but where its plate was filled.

    The detail is taken from those sources blended at full size, as what a round trip through the
    small size loses: one round trip, not one per source (about 3 ms less). ``keep`` and the filled hole
    are smooth at the small size, so the two differ only along their edges (by 0.03–0.16 levels
    on average over 16 held-out portraits)."""
    side, low = painted.shape[0], small.shape[0]
    base = scaled(small.astype(np.float32), side)
    kept = scaled(keep, side)[..., None]
    if plate.fine is not None:
        ground = plate.fine.astype(np.float32)
    else:  # the frame's own detail, but none where the plate was filled
        filled = scaled(plate.filled.astype(np.float32) / 255, side)[..., None]
        ground = base + (1 - filled) * (scaled(frame.astype(np.float32), side) - base)
    sources = ground + kept * (painted.astype(np.float32) - ground)
    out = base + sources - scaled(scaled(sources, low), side)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
