"""Measures of a painter, each computed per style on held-out faces (StyleGAN3-style: metrics live
apart from training).

* ``redetect_rate``: MTCNN still finds a face in the portrait.
* ``landmark_drift``: how far the five landmarks move between the aligned photo and its portrait,
  as a fraction of the face box width (faces must not be distorted).
* ``identity``: dlib's 128-d face descriptor of the portrait lies within 0.6 (dlib's same-person
  threshold) of the photo's.
* ``style_judge``: a classifier trained on held-out real paintings vs held-out photos calls the
  portrait a painting of the selected style.
* ``pixel_judge``: the same, reading plain pixel statistics instead of VGG's: a second opinion.
  No training term pulls on its edge statistics; the palette term does on its colours and tones.
* ``lattice``: how much of a portrait's fine detail is one motif stamped cell after cell on the
  decoder's 8-pixel grid (the diamond lattice); ``lattice_local`` the same in 32² tiles, averaged,
  so that smooth grounds, where the lattice shows, count as much as a face's edges;
  ``lattice_photo`` and ``lattice_local_photo`` are the photos' own, for scale.
* ``grid_lock``: how much more a portrait changes when its photo moves off the 8-pixel grid than
  when it moves by whole cells (1: brushwork moves with the sitter; a lattice stays put).
* ``skin_L_corr``, ``skin_L_shift`` and, per group of sitters, ``skin_L_shift_spread``: whether a
  portrait keeps the sitter's skin tone, read as CIE L* and ITA° of a cheek-and-nose patch in
  photo and portrait (a painter that lightens dark skin more than light skin shows as a spread).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import rgb2lab

from portrait.detect import Face, FaceDetector, nearest_face
from training.losses import lattice_tiles, luminance
from training.vgg import STATISTICS_LAYERS, VGGFeatures, channel_count, channel_statistics

SAME_PERSON = 0.6


class IdentityModel:
    """dlib's face descriptor (ResNet, 128-d), from the face-recognition-models package."""

    def __init__(self) -> None:
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("pip install face-recognition-models==0.3.0")
        models = Path(spec.submodule_search_locations[0]) / "models"
        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def descriptor(self, image: np.ndarray, face: Face) -> np.ndarray:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        image = np.ascontiguousarray(image)
        shape = self.shape(image, self.dlib.rectangle(x1, y1, x2, y2))
        chip = self.dlib.get_face_chip(image, shape, 150)
        return np.asarray(self.net.compute_face_descriptor(chip))


def landmark_drift(photo: Face, painted: Face) -> float:
    """Mean landmark displacement as a fraction of the photo's face box width."""
    return float(np.linalg.norm(photo.landmarks - painted.landmarks, axis=1).mean() / photo.width)


class LinearJudge(torch.nn.Module):
    """Linear classifier over statistics of a crop; classes: "photo" and each style.

    Small on purpose: it is trained on a few dozen held-out paintings per style and must judge
    medium (texture, palette), not subject. Subclasses say which statistics it reads.
    """

    def __init__(self, classes: list[str], dimensions: int) -> None:
        super().__init__()
        self.classes = classes
        self.head = torch.nn.Linear(dimensions, len(classes))

    def statistics(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def _all_statistics(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.statistics(batch) for batch in images.split(16)])

    def fit(self, crops: torch.Tensor, labels: torch.Tensor, steps: int = 300) -> float:
        """Train the head (the statistics stay fixed); returns training accuracy."""
        stats = self._all_statistics(crops)
        self.mean, self.std = stats.mean(0), stats.std(0) + 1e-6
        x = (stats - self.mean) / self.std
        optimiser = torch.optim.Adam(self.head.parameters(), lr=1e-2, weight_decay=1e-3)
        for _ in range(steps):
            optimiser.zero_grad()
            F.cross_entropy(self.head(x), labels).backward()
            optimiser.step()
        return float((self.head(x).argmax(1) == labels).float().mean())

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list[str]:
        index = self.head((self._all_statistics(images) - self.mean) / self.std).argmax(1)
        return [self.classes[i] for i in index]


class StyleJudge(LinearJudge):
    """Reads VGG relu1_2…relu3_3 channel means and deviations (texture statistics)."""

    def __init__(self, features: VGGFeatures, classes: list[str]) -> None:
        super().__init__(classes, 2 * sum(channel_count(k) for k in STATISTICS_LAYERS))
        self.features = features

    def statistics(self, images: torch.Tensor) -> torch.Tensor:
        return channel_statistics(self.features, images)


class PixelJudge(LinearJudge):
    """Reads plain pixel statistics: colour and saturation, a tone histogram, and edge strength at
    three scales. A second opinion on ``style_judge``, whose VGG statistics the painter is trained
    towards (``train --stats``); of these, only colours and tones are trained (``train --palette``)."""

    EDGES = (0.05, 0.15)  # luminance steps that count as a soft and a hard edge

    def __init__(self, classes: list[str]) -> None:
        super().__init__(classes, 6 + 2 + 8 + 3 * (2 + len(self.EDGES)))

    def statistics(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() + 1) / 2
        lum = luminance(x)
        top, bottom = x.max(1).values, x.min(1).values
        saturation = (top - bottom) / (top + 1e-3)
        bins = (lum.clamp(0, 1 - 1e-6) * 8).long()
        tones = torch.stack([(bins == b).float().mean((1, 2, 3)) for b in range(8)], 1)
        stats = [x.mean((2, 3)), x.std((2, 3)), saturation.mean((1, 2))[:, None],
                 saturation.std((1, 2))[:, None], tones]
        for scale in (1, 2, 4):
            low = F.avg_pool2d(lum, scale)
            dy, dx = low[..., 1:, :-1] - low[..., :-1, :-1], low[..., :-1, 1:] - low[..., :-1, :-1]
            edges = (dy**2 + dx**2).sqrt().flatten(1)
            stats += [edges.mean(1, keepdim=True), edges.std(1, keepdim=True),
                      *((edges > t).float().mean(1, keepdim=True) for t in self.EDGES)]
        return torch.cat(stats, 1)


def random_crops(image: np.ndarray, count: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Square crops of a third to two thirds of the short side, resized to ``size``."""
    pil = Image.fromarray(image)
    crops = []
    for _ in range(count):
        side = int(min(pil.size) * rng.uniform(0.35, 0.7))
        x = int(rng.integers(0, pil.width - side + 1))
        y = int(rng.integers(0, pil.height - side + 1))
        crops.append(np.asarray(pil.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)))
    return crops


#: Tile size of ``lattice_local``: four of the decoder's 8-pixel cells.
LATTICE_WINDOW = 32


def lattice(image: np.ndarray, window: int | None = None) -> float:
    """:func:`training.losses.lattice_tiles` of one H×W×3 uint8 portrait (photos: ≈0), over the
    whole image or averaged tile by tile (``window``; a tile's detail below one grey level does not
    count)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].double() / 127.5 - 1
    return float(lattice_tiles(x, window, each_offset=True).mean())


def lattices(image: np.ndarray) -> dict[str, float]:
    """``lattice`` over the whole image and ``lattice_local`` tile by tile."""
    return {"lattice": lattice(image), "lattice_local": lattice(image, LATTICE_WINDOW)}


#: Moves of the photo off the decoder's 8-pixel grid (half a cell; and off the 2- and 4-pixel grids
#: of the encoder's strides too), and one by whole cells (four of them).
OFF_GRID_MOVES = ((4, 4), (3, 5))
ON_GRID_MOVE = (32, 32)


def grid_lock(paint: Callable[[np.ndarray], np.ndarray], photos: list[np.ndarray],
              portraits: list[np.ndarray], margin: int = 40) -> float:
    """How much more the portraits change when their photos move off the 8-pixel grid than when they
    move by whole cells, as a ratio of mean squared changes (StyleGAN3's translation equivariance).

    A painter's brushwork moves with the sitter however far the sitter moves: 1. A motif stamped
    into the decoder's cells stays with the grid whatever multiple of the cell it repeats at (the
    lattice's diamonds, and the larger rings that the four offsets of ``lattice`` do not test), so
    moving the photo off the grid changes the portrait more. ``paint`` maps a photo to its portrait
    (the same size); a moved photo wraps around, so portraits are moved back and compared away from
    the borders. The grain, fixed in the frame, changes alike under both moves.
    """
    def change(moves: tuple[tuple[int, int], ...]) -> float:
        total = 0.0
        for photo, portrait in zip(photos, portraits, strict=True):
            for move in moves:
                moved = paint(np.roll(photo, move, (0, 1)))
                back = np.roll(moved, (-move[0], -move[1]), (0, 1)).astype(np.float64)
                total += np.mean((back - portrait)[margin:-margin, margin:-margin] ** 2) / len(moves)
        return total

    return change(OFF_GRID_MOVES) / max(change((ON_GRID_MOVE,)), 1e-12)


def score_portraits(detector: FaceDetector, identity: IdentityModel | None, aligned: np.ndarray,
                    photo_face: Face, portrait: np.ndarray) -> dict[str, float]:
    """redetect (0/1), landmark drift, identity (0/1) and lattice (whole and local) of one portrait.

    Drift is NaN when no face is found again; identity is NaN without dlib, and 0 when no face is
    found (dlib needs one)."""
    grid = lattices(portrait)
    found = detector(Image.fromarray(portrait))
    if not found:  # a portrait nobody can find a face in has lost the person too
        return {"redetect_rate": 0.0, "landmark_drift": float("nan"),
                "identity": 0.0 if identity is not None else float("nan"), **grid}
    painted = nearest_face(found, photo_face.landmarks.mean(0))
    result = {"redetect_rate": 1.0, "landmark_drift": landmark_drift(photo_face, painted),
              "identity": float("nan"), **grid}
    if identity is not None:
        before, after = identity.descriptor(aligned, photo_face), identity.descriptor(portrait, painted)
        result["identity"] = float(np.linalg.norm(before - after) < SAME_PERSON)
    return result


#: The cheek-and-nose patch, in face coordinates: ``v`` runs from the eye line (0) to the mouth
#: line (1); ``s`` runs out from the nose, in units of that side's nose-to-eye distance (the eye
#: centre is at 1), so a turned face's near and far cheeks are each placed on their own side.
#: Cheeks: below the lower lid and its shadow, above the nasolabial fold, clear of the nostrils'
#: wings and short of the jaw. Nose: its bridge, between the inner eye corners and above the tip
#: (whose highlight and nostril shadows are not skin tone).
CHEEKS = {"s": (0.45, 1.3), "v": (0.28, 0.58)}
NOSE_BRIDGE = {"s": (0.0, 0.2), "v": (0.1, 0.38)}


def skin_patch(face: Face, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean H×W mask of the cheek-and-nose patch, placed from the five landmarks alone.

    A patch rather than a skin segmentation: the same pixels of photo and portrait are compared,
    and no segmenter's own bias about what dark or painted skin looks like enters the measure.
    """
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks
    eyes = (left_eye + right_eye) / 2
    across = (right_eye - left_eye) / np.linalg.norm(right_eye - left_eye)
    down = np.array([-across[1], across[0]])
    height = ((left_mouth + right_mouth) / 2 - eyes) @ down  # eye line to mouth line
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    pixels = np.stack([xs, ys], -1) + 0.5
    v = (pixels - eyes) @ down / height
    offset = (pixels - nose) @ across
    reach = np.where(offset < 0, (nose - left_eye) @ across, (right_eye - nose) @ across)
    s = np.abs(offset) / np.maximum(reach, 1e-6)

    def inside(region: dict[str, tuple[float, float]]) -> np.ndarray:
        (s0, s1), (v0, v1) = region["s"], region["v"]
        return (s >= s0) & (s <= s1) & (v >= v0) & (v <= v1)

    return inside(CHEEKS) | inside(NOSE_BRIDGE)


def skin_patch_lab(image: np.ndarray, face: Face) -> tuple[float, float]:
    """Median CIE L* (D65) of the cheek-and-nose patch of an H×W×3 uint8 frame, and its ITA°.

    ITA (Individual Typology Angle, dermatology's skin-tone scale: > 55° very light, < −30° dark)
    is atan((L* − 50) / b*) of the patch's median L* and b*, as a colorimeter reads one spot.
    ``arctan2`` gives the same angle for every b* > 0 (all skin) and stays continuous through the
    greys of an ink portrait, where b* ≈ 0 would flip the plain arctangent from +90° to −90°.
    Measure a portrait with its *photo's* face, so both are read at the same pixels.
    """
    lab = rgb2lab(image[skin_patch(face, image.shape)][None])[0]
    lightness, yellow = np.median(lab[:, 0]), np.median(lab[:, 2])
    return float(lightness), float(np.degrees(np.arctan2(lightness - 50, yellow)))


#: Groups smaller than this are reported but left out of ``skin_L_shift_spread``: a median of
#: two or three faces says more about those faces than about their group.
SPREAD_MIN_FACES = 4


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r; NaN when either side does not vary (one sitter, or a flat portrait)."""
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def skin_tone_report(groups: dict[str, str],
                     rows: list[tuple[str, float, float, float, float]]) -> dict:
    """Skin tone kept or shifted, per group of sitters and over all of them.

    ``rows``: (file, photo L*, photo ITA, portrait L*, portrait ITA), one per face; ``groups`` maps
    files to group labels (faces without one count only in the overall figures). Returns
    ``groups`` ({group: n, median photo and portrait L* and ITA, mean L* shift}),
    ``skin_L_shift_spread`` (largest minus smallest group shift, groups of ≥ SPREAD_MIN_FACES;
    NaN with none), ``skin_L_corr`` (portrait L* against photo L*, all sitters) and
    ``skin_L_shift`` (the mean shift over all sitters). A painter may lighten or darken every
    sitter alike (a style's palette); the spread says whether it does so more for some groups.
    """
    table = np.array([row[1:] for row in rows], np.float64).reshape(-1, 4)
    photo_l, photo_ita, portrait_l, portrait_ita = table.T
    shift = portrait_l - photo_l
    labels = np.array([groups.get(row[0], "") for row in rows])
    per_group = {}
    for group in sorted(set(labels) - {""}):
        member = labels == group
        per_group[group] = {"n": int(member.sum()),
                            **{key: float(np.median(values[member])) for key, values in
                               (("photo_L", photo_l), ("portrait_L", portrait_l),
                                ("photo_ITA", photo_ita), ("portrait_ITA", portrait_ita))},
                            "L_shift": float(shift[member].mean())}
    shifts = [g["L_shift"] for g in per_group.values() if g["n"] >= SPREAD_MIN_FACES]
    return {"groups": {group: {key: round(value, 2) for key, value in figures.items()}
                       for group, figures in per_group.items()},
            "skin_L_shift_spread": round(max(shifts) - min(shifts), 2) if shifts else float("nan"),
            "skin_L_corr": round(_correlation(photo_l, portrait_l), 4),
            "skin_L_shift": round(float(shift.mean()), 2) if len(rows) else float("nan")}
