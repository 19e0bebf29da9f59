"""What each pixel of a bust frame is: the guides that steer patch synthesis (:mod:`portrait.synthesis`).

MediaPipe's FaceMesh (478 points: face oval, eyes, irises, brows, lips) and SelfieSegmentation (a
person mask), both shipped inside the mediapipe wheel, are run on the aligned frame. From them:

* :func:`regions`: soft segmentation channels (:data:`REGIONS`), so skin is painted with skin,
  an iris with an iris, the ground with the ground;
* :func:`thin_plate`: where each pixel of one frame lies in another, from their meshes, for the
  positional guide (the exemplar's layout warped onto the sitter).

Both frames are already aligned on five points, so the warps are small corrections.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from portrait.colour import blur, rgb_to_lab

REGIONS = ("background", "hair", "body", "skin", "brows", "eyes", "irises", "lips", "mouth")
#: Each region as a corner of the 5-D cross-polytope (±e_i): any two regions lie as far apart as
#: two one-hot channels do (squared distance 2; the opposite pairs, background and skin, hair and
#: lips…, twice that), in 5 channels instead of 9 — the synthesis pays per channel.
CODES = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [-1, 0, 0, 0, 0], [0, 0, 0, 1, 0],
                  [0, 0, 0, 0, 1], [0, 0, 0, -1, 0], [0, -1, 0, 0, 0], [0, 0, 0, 0, -1]], np.float32)
#: Frame-border anchors per side of the thin-plate warp: far from the face the frames agree.
BORDER_ANCHORS = 6


@dataclass(frozen=True)
class Guides:
    """A frame's landmarks and masks, in its own pixels."""

    mesh: np.ndarray  #: (478, 2) FaceMesh points (x, y)
    person: np.ndarray  #: H×W person probability (float16: kept for every master)
    #: H×W×len(REGIONS) soft masks summing to about 1, in 1/255 steps: a library of fifty masters
    #: keeps them all, and as floats they were a third of the app's memory
    levels: np.ndarray

    @classmethod
    def of(cls, mesh: np.ndarray, person: np.ndarray, masks: np.ndarray) -> Guides:
        return cls(mesh, person.astype(np.float16), np.rint(np.clip(masks, 0, 1) * 255).astype(np.uint8))

    @property
    def codes(self) -> np.ndarray:
        """The regions as :data:`CODES` (H×W×5): the segmentation guide."""
        return self.weighted(CODES)

    def weighted(self, weights: np.ndarray) -> np.ndarray:
        """Σ over regions of mask × weight (``weights``: one row, or one value, per region)."""
        return (self.levels @ (np.asarray(weights, np.float32) / 255)).astype(np.float32)

    def region(self, *names: str) -> np.ndarray:
        """The sum of the named soft masks (H×W)."""
        picked = [i for i, name in enumerate(REGIONS) if name in names]
        if len(picked) == 1:  # one channel, read as it is: a quarter of the time of a weighted sum
            return self.levels[..., picked[0]] * np.float32(1 / 255)
        return self.weighted(np.array([name in names for name in REGIONS], np.float32))


def _paths(edges: frozenset) -> list[list[int]]:
    """MediaPipe's connection sets are unordered edges: chain them into paths or closed loops."""
    neighbours = defaultdict(list)
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    seen: set[int] = set()
    paths = []
    starts = [n for n, nb in neighbours.items() if len(nb) == 1] + sorted(neighbours)
    for start in starts:
        if start in seen:
            continue
        path, previous, node = [start], None, start
        seen.add(start)
        while True:
            step = [n for n in neighbours[node] if n != previous and n not in seen]
            if not step:
                break
            previous, node = node, step[0]
            path.append(node)
            seen.add(node)
        paths.append(path)
    return paths


def _polygon(edges: frozenset) -> list[int]:
    """One outline from a connection set: a loop, or two polylines joined (the brows)."""
    paths = sorted(_paths(edges), key=len, reverse=True)
    if len(paths) == 1:
        return paths[0]
    return paths[0] + paths[1][::-1]


def _outlines() -> dict[str, list[int] | list[list[int]]]:
    from mediapipe.python.solutions import face_mesh as fm

    lips = sorted(_paths(fm.FACEMESH_LIPS), key=len)  # inner and outer loops: 20 points each
    return {
        "oval": _polygon(fm.FACEMESH_FACE_OVAL),
        "brows": [_polygon(fm.FACEMESH_LEFT_EYEBROW), _polygon(fm.FACEMESH_RIGHT_EYEBROW)],
        "eyes": [_polygon(fm.FACEMESH_LEFT_EYE), _polygon(fm.FACEMESH_RIGHT_EYE)],
        "irises": [_polygon(fm.FACEMESH_LEFT_IRIS), _polygon(fm.FACEMESH_RIGHT_IRIS)],
        "lips": lips,
    }


def _fill(size: tuple[int, int], mesh: np.ndarray, outlines: list[list[int]]) -> np.ndarray:
    """Filled polygons through mesh points, rasterised in memory (H×W float)."""
    canvas = Image.new("L", size[::-1], 0)
    draw = ImageDraw.Draw(canvas)
    for outline in outlines:
        draw.polygon([tuple(p) for p in mesh[outline]], fill=255)
    return np.asarray(canvas, np.float32) / 255


def _area(mesh: np.ndarray, outline: list[int]) -> float:
    x, y = mesh[outline].T
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def skin_like(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """How much each pixel (H×W×3 L*a*b*) looks like the face's own skin (``skin``, the mesh's):
    a forehead under a high hairline, a bald head, ears and a neck lie outside the mesh's oval and
    are skin all the same (as hair they were painted with the master's hair: a pale band)."""
    core = skin > 0.9
    if core.sum() < 100:
        return np.zeros(skin.shape, np.float32)
    mean = lab[core].mean(0)
    spread = lab[core].std(0) + np.array([3.0, 1.0, 1.0])
    distance = (((lab - mean) / spread) ** 2 * np.array([0.5, 1.0, 1.0])).sum(-1)
    # a soft cut-off, not a bell: most skin lies within distance 4, blond hair beside it does not
    return (1 / (1 + np.exp(np.clip(2 * (distance - 4), -30, 30)))).astype(np.float32)


def regions(mesh: np.ndarray, person: np.ndarray, outlines: dict, softness: float,
            lab: np.ndarray) -> np.ndarray:
    """Soft masks of :data:`REGIONS` for one frame, from its mesh, person mask and colours
    (L*a*b*: they find the skin beyond the mesh's oval)."""
    size = person.shape
    inner, outer = sorted(outlines["lips"], key=lambda loop: _area(mesh, loop))
    oval = _fill(size, mesh, [outlines["oval"]])
    mouth = _fill(size, mesh, [inner])
    lips = np.clip(_fill(size, mesh, [outer]) - mouth, 0, 1)
    irises = _fill(size, mesh, outlines["irises"])
    eyes = np.clip(_fill(size, mesh, outlines["eyes"]) - irises, 0, 1)
    irises = np.minimum(irises, eyes + irises)  # an iris ends at the lids
    brows = np.clip(_fill(size, mesh, outlines["brows"]) - eyes, 0, 1)
    skin = np.clip(oval - mouth - lips - irises - eyes - brows, 0, 1)
    chin = mesh[outlines["oval"], 1].max()
    rows = np.arange(size[0], dtype=np.float32)[:, None]
    beside = np.clip(person - oval, 0, 1)
    bare = beside * skin_like(lab, skin)
    skin, beside = skin + bare, beside - bare
    below = np.clip((rows - chin) / (0.05 * size[0]) + 0.5, 0, 1)  # the hair ends at the jaw line
    hair, body = beside * (1 - below), beside * below
    background = np.clip(1 - np.maximum(person, oval), 0, 1)
    stack = np.stack([background, hair, body, skin, brows, eyes, irises, lips, mouth], axis=-1)
    stack = blur(stack, softness)
    return stack / np.maximum(stack.sum(-1, keepdims=True), 1e-3)


class GuideMaker:
    """FaceMesh and SelfieSegmentation, built once; not thread-safe, so calls take a lock."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import face_mesh, selfie_segmentation

        self.mesh = face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1,
                                       min_detection_confidence=0.3)
        self.segmenter = selfie_segmentation.SelfieSegmentation(model_selection=0)
        self.outlines = _outlines()
        self.lock = threading.Lock()

    def __call__(self, frame: np.ndarray) -> Guides | None:
        """The guides of an aligned H×W×3 uint8 frame; None when FaceMesh finds no face."""
        frame = np.ascontiguousarray(frame)
        h, w = frame.shape[:2]
        with self.lock:
            found = self.mesh.process(frame).multi_face_landmarks
            person = self.segmenter.process(frame).segmentation_mask
        if not found:
            return None
        mesh = np.array([(p.x * w, p.y * h) for p in found[0].landmark], np.float32)
        person = np.asarray(person, np.float32)
        return Guides.of(mesh, person, regions(mesh, person, self.outlines, w / 160, rgb_to_lab(frame)))


#: The mesh points the warp follows: a spread subset (every 8th) plus the irises' centres, so the
#: face's shape and the gaze are matched without a 478-point solve.
CONTROL_POINTS = np.unique(np.concatenate([np.arange(0, 468, 8), [468, 473]]))


def _border(size: int) -> np.ndarray:
    ticks = np.linspace(0, size - 1, BORDER_ANCHORS)
    zeros, ends = np.zeros_like(ticks), np.full_like(ticks, size - 1)
    return np.concatenate([np.stack(pair, 1) for pair in
                           ((ticks, zeros), (ticks, ends), (zeros, ticks), (ends, ticks))])


def thin_plate(target: np.ndarray, source: np.ndarray, size: int, smoothing: float = 5.0,
               grid: int = 64) -> np.ndarray:
    """For each pixel of a ``size``² target frame, the (y, x) position it corresponds to in the
    source frame: a thin-plate spline through matched points (N×2, x y) and the frame's border
    (held still), solved on a ``grid``² lattice and interpolated (the warp is smooth)."""
    anchors = _border(size)
    p = np.concatenate([target, anchors]).astype(np.float64) / size
    q = np.concatenate([source, anchors]).astype(np.float64) / size

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        r2 = ((a[:, None] - b[None]) ** 2).sum(-1)
        return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-12)) * 0.5, 0.0)

    n = len(p)
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = kernel(p, p) + np.eye(n) * smoothing / size
    system[:n, n:] = np.hstack([np.ones((n, 1)), p])
    system[n:, :n] = system[:n, n:].T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = q
    coefficients = np.linalg.solve(system, rhs)
    axis = (np.arange(grid) + 0.5) / grid
    points = np.stack(np.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
    affine = np.hstack([np.ones((len(points), 1)), points]) @ coefficients[n:]
    mapped = kernel(points, p) @ coefficients[:n] + affine
    mapped = mapped.reshape(grid, grid, 2).astype(np.float32)
    xs, ys = (np.asarray(Image.fromarray(mapped[..., i]).resize((size, size), Image.Resampling.BILINEAR))
              * size for i in range(2))
    return np.stack([ys, xs], axis=-1)
