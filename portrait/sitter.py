"""Who is sitting: the sitter's sex and age group, read from the app's aligned bust frame.

The master painter repaints a photo with the patches of one real portrait, and a master picked
for pose and silhouette alone turned men into women and children into adults. This tiny CNN
tells the picker who sits, so that it can prefer a master of the same sex and age group.

It reads exactly the frame the app paints, :func:`portrait.align.align_face` at 512², through
one crop, :func:`face_crop`, that training uses too: the face square around the template's eyes
and mouth, shrunk to :data:`INPUT_SIDE`. It is a guess from a face, meant only for choosing a
painting; :class:`Sitter` carries probabilities, and the held-out accuracies it was trained to
are in the weights file's metadata (:meth:`SitterModel.info`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from portrait.align import closer

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "sitter.safetensors"

SEXES = ("m", "f")
AGE_GROUPS = ("child", "young", "adult", "old")
#: First age of each group after "child": young from 13, adult from 30, old from 55.
AGE_BOUNDS = (13, 30, 55)

#: The frame :func:`face_crop` expects (any square frame is read at this scale).
FRAME = 512
#: Centre and side, in 512² frame pixels, of the face square. The template puts the eye centre
#: at (256, 194.6) and the mouth at y 289 with the eyes 82 px apart; this square reaches from the
#: brow to the chin and holds no more than UTKFace's tight chips show, so a model trained on them
#: never learns from the blurred fill around a tight photo.
CROP_CENTRE = (256.0, 240.0)
CROP_SIDE = 224.0
#: Side of the network's input.
INPUT_SIDE = 64
#: Channels of the four convolution blocks.
WIDTHS = (16, 32, 64, 128)


def age_group(age: int) -> str:
    """The group of an age in years."""
    return AGE_GROUPS[int(np.searchsorted(AGE_BOUNDS, age, side="right"))]


def face_crop(frame: np.ndarray, margin: float = 1.0, zoom: float = 1.0) -> np.ndarray:
    """The face square of an aligned frame (H×W×3 uint8, square), as INPUT_SIDE² uint8.

    ``margin`` > 1 widens the square and its output in proportion, at the same scale: training
    caches such wider crops and takes its shifted, rotated samples from them. ``zoom``: how much
    closer than a bust the frame is (``Alignment.zoom``); the square comes as much closer, about
    the face's centre, so the network sees the face at the scale it learnt (where the square then
    reaches past the frame, the frame's edge is repeated).
    """
    if frame.ndim != 3 or frame.shape[0] != frame.shape[1] or frame.shape[2] != 3:
        raise ValueError(f"expected a square H×W×3 frame, got shape {frame.shape}")
    scale = frame.shape[1] / FRAME
    cx, cy = closer(CROP_CENTRE, FRAME, zoom) * scale
    half = CROP_SIDE * margin * zoom / 2 * scale
    side_px = frame.shape[0]
    pad = int(np.ceil(max(0.0, half - cx, half - cy, cx + half - side_px, cy + half - side_px)))
    if pad:
        frame = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        cx, cy = cx + pad, cy + pad
    side = round(INPUT_SIDE * margin)
    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    return np.array(image.resize((side, side), Image.Resampling.BILINEAR,
                                 box=(cx - half, cy - half, cx + half, cy + half)))


def standardise(crops: torch.Tensor) -> torch.Tensor:
    """uint8-valued N×3×H×W → each image to zero mean and unit variance over all its pixels.

    Taking out each photo's own exposure and contrast is what lets one small network read faces
    lit dim or bright, and dark or light skin, alike; colour balance within the image is kept.
    """
    x = crops.float()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / (std + 4.0)


class SitterNet(nn.Module):
    """Four 3×3 conv–BN–ReLU blocks, each halving the image, then average pooling and two heads:
    one logit for female, four for the age groups."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(channels, 1 + len(AGE_GROUPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised N×3×S×S → N×5 logits (female, then the age groups)."""
        return self.head(self.dropout(self.features(x).mean(dim=(2, 3))))


def probabilities(net: SitterNet, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(female) (N,) and age-group probabilities (N×4) of uint8 crops (N×S×S×3).

    Each crop is read with its mirror image and the logits averaged: sex and age do not depend on
    which way the sitter turns, and the pair costs one batch of two.
    """
    x = standardise(torch.from_numpy(np.array(crops, np.uint8)).permute(0, 3, 1, 2))
    with torch.inference_mode():
        logits = net(torch.cat([x, x.flip(3)])).view(2, len(x), -1).mean(0)
    return torch.sigmoid(logits[:, 0]).numpy(), torch.softmax(logits[:, 1:], dim=1).numpy()


@dataclass(frozen=True)
class Sitter:
    """Who sits, as the model guesses it."""

    sex: str  #: 'm' or 'f'
    p_female: float
    age: str  #: one of :data:`AGE_GROUPS`
    age_probs: dict[str, float]


def save(net: SitterNet, path: Path, info: dict) -> None:
    """Write the network as fp16 safetensors, with its architecture and provenance (``info``:
    training data, held-out accuracy, date) in the metadata; atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in net.state_dict().items()}
    meta = {"config": json.dumps({"widths": list(net_widths(net)), "input_side": INPUT_SIDE,
                                  "crop_centre": CROP_CENTRE, "crop_side": CROP_SIDE}),
            "info": json.dumps(info)}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def net_widths(net: SitterNet) -> tuple[int, ...]:
    """The block widths a network was built with."""
    return tuple(m.out_channels for m in net.features if isinstance(m, nn.Conv2d))


class SitterModel:
    """The trained classifier, on the CPU, in eval mode; call it with an aligned frame."""

    def __init__(self, net: SitterNet, info: dict) -> None:
        self.net = net.eval().requires_grad_(False)
        self.info = info

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> SitterModel:
        """Read the weights file. Raises FileNotFoundError when there is none."""
        if not path.is_file():
            raise FileNotFoundError(f"no sitter classifier at {path}; train one with "
                                    "python -m training.sitter")
        with safe_open(str(path), framework="pt") as handle:
            meta = {k: json.loads(v) for k, v in handle.metadata().items()}
        config = meta["config"]
        if config["input_side"] != INPUT_SIDE or tuple(config["crop_centre"]) != CROP_CENTRE \
                or config["crop_side"] != CROP_SIDE:
            raise ValueError(f"{path} was trained on another face crop ({config}); retrain it")
        net = SitterNet(tuple(config["widths"]))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v
                             for k, v in load_file(str(path)).items()})
        return cls(net, meta["info"])

    def __call__(self, frame512: np.ndarray, zoom: float = 1.0) -> Sitter:
        """The sitter of an aligned frame (:func:`portrait.align.align_face`, H×W×3 uint8) framed
        ``zoom`` times closer than a bust."""
        p_female, ages = probabilities(self.net, face_crop(frame512, zoom=zoom)[None])
        age_probs = {name: float(p) for name, p in zip(AGE_GROUPS, ages[0], strict=True)}
        return Sitter(sex="f" if p_female[0] >= 0.5 else "m", p_female=float(p_female[0]),
                      age=max(age_probs, key=age_probs.get), age_probs=age_probs)
