"""Train the sitter classifier (:mod:`portrait.sitter`): sex and age group from the aligned frame.

    python -m training.sitter --faces ../shared/data/faces --out weights/sitter.safetensors

Labels come only from what the faces MANIFEST.tsv's source column states:

* UTKFace chips end ``AGE_GENDER_RACE_DATE.jpg.chip.jpg`` (gender 0 male, 1 female; race 0 White,
  1 Black, 2 Asian, 3 Indian, 4 Others);
* All-Age-Faces originals are named ``%05dA%02d.jpg``, serial number then age, and the dataset's
  README says serials 00000–07380 are female and 07381–13321 male. AAF has no race label; it is
  "mostly Asian", which is how the loss balance counts it.

Every other face has no label and is left out. Each photo goes through the app's own detector,
alignment and :func:`portrait.sitter.face_crop` (a wider crop, cached under ``--cache`` outside
the repository, from which augmentation takes shifted, scaled, rotated and mirrored samples);
colour, brightness, contrast, gamma, grey and blur augmentation stand in for the lighting and
cameras of real selfies. The loss gives each race group the same total weight, so that the
largest group does not set the decision boundary for the others. Held-out faces
(:func:`training.data.held_out`) are never trained on and only read once, at the end, for the
accuracies printed and stored in the weights' metadata; ``--validate`` tunes on a part of the
training faces instead.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from portrait.align import align_face
from portrait.detect import FaceDetector
from portrait.inputs import InputError, load_image
from portrait.sitter import (
    AGE_GROUPS,
    INPUT_SIDE,
    SitterNet,
    age_group,
    face_crop,
    probabilities,
    save,
    standardise,
)
from training import data
from training.groups import UTK_NAME

RACES = ("White", "Black", "Asian", "Indian", "Others")
AAF_NAME = re.compile(r"(?:^|/)(\d{5})A(\d{2})\.jpg$")
#: Serials of All-Age-Faces' male sitters start here (dataset README).
AAF_FIRST_MALE = 7381
#: The cached crops are this much wider than the network's input, for shift and rotation.
MARGIN = 1.25
CACHE_VERSION = 1


@dataclass(frozen=True)
class Labelled:
    """One labelled photo of the faces folder."""

    file: str
    female: bool
    age: int
    dataset: str  #: 'UTKFace' or 'AAF'
    race: str  #: one of RACES; AAF counts as 'Asian'

    @property
    def group(self) -> str:
        """The row of the per-group report: UTKFace's race label, AAF apart."""
        return "AAF (mostly East Asian)" if self.dataset == "AAF" else self.race


def labels(faces: Path) -> list[Labelled]:
    """Every face whose manifest source states its sex and age."""
    found = []
    for row in data.manifest(faces):
        if match := UTK_NAME.search(row["source"]):
            age, gender, race = (int(group) for group in match.groups())
            if race < len(RACES):
                found.append(Labelled(row["file"], gender == 1, age, "UTKFace", RACES[race]))
        elif match := AAF_NAME.search(row["source"]):
            serial, age = (int(group) for group in match.groups())
            found.append(Labelled(row["file"], serial < AAF_FIRST_MALE, age, "AAF", "Asian"))
    return found


def crops(faces: Path, people: list[Labelled], cache: Path) -> tuple[list[Labelled], np.ndarray]:
    """Wide face crops (N×S×S×3 uint8, S = INPUT_SIDE·MARGIN) of the people MTCNN finds a face in,
    cached: detection and alignment are most of the cost and never change."""
    key = hashlib.sha1("\n".join(p.file for p in people).encode()
                       + (faces / "MANIFEST.tsv").read_bytes()).hexdigest()[:12]
    path = cache / f"crops_v{CACHE_VERSION}_{INPUT_SIDE}_{key}.npz"
    if path.exists():
        stored = np.load(path)
        kept = set(stored["files"].tolist())
        return [p for p in people if p.file in kept], stored["crops"]
    detector = FaceDetector()
    kept, images = [], []
    for person in tqdm(people, desc="aligning"):
        try:
            image = load_image(faces / person.file)
        except InputError:
            continue
        found = detector(image)
        if found:  # the largest face, as the app paints by default
            images.append(face_crop(align_face(image, found[0].landmarks, 512)[0], MARGIN))
            kept.append(person)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, crops=np.stack(images), files=np.array([p.file for p in kept]))
    return kept, np.stack(images)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Wide uint8 crops (N×S×S×3) → random INPUT_SIDE² views, float 0–255, N×3×H×W: mirrored,
    shifted ±6 %, scaled ±8 %, turned ±10°, re-coloured, re-exposed, sometimes grey or blurred."""
    n = len(batch)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape or (n,), generator=generator)

    x = batch.permute(0, 3, 1, 2).float()
    angle = uniform(-10, 10) * torch.pi / 180
    scale = uniform(0.92, 1.08) / MARGIN
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = scale * torch.cos(angle) * mirror, -scale * torch.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = scale * torch.sin(angle) * mirror, scale * torch.cos(angle)
    theta[:, :, 2] = uniform(-0.12, 0.12, n, 2) / MARGIN
    grid = F.affine_grid(theta, [n, 3, INPUT_SIDE, INPUT_SIDE], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False) / 255

    x = x * torch.exp(0.08 * torch.randn(n, 3, 1, 1, generator=generator))  # white balance
    x = x.clamp(1e-4, 1) ** torch.exp(uniform(-0.35, 0.35))[:, None, None, None]  # gamma
    grey = (torch.rand(n, generator=generator) < 0.1)[:, None, None, None]
    x = torch.where(grey, x.mean(1, keepdim=True).expand_as(x), x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.7, 1.3)[:, None, None, None] + mean * uniform(0.5, 1.4)[:, None, None, None]
    blur = torch.rand(n, generator=generator) < 0.2
    if blur.any():  # a small or soft webcam face
        small = F.interpolate(x[blur], scale_factor=0.5, mode="bilinear", antialias=True)
        x[blur] = F.interpolate(small, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear")
    x = x + 0.02 * torch.randn(x.shape, generator=generator)
    return (x.clamp(0, 1) * 255).round()


def group_weights(people: list[Labelled]) -> torch.Tensor:
    """Per-sample loss weights giving each race group the same total, mean 1."""
    counts = Counter(p.race for p in people)
    weights = torch.tensor([1.0 / counts[p.race] for p in people])
    return weights / weights.mean()


def train(people: list[Labelled], images: np.ndarray, epochs: int, batch_size: int, seed: int) -> SitterNet:
    """A freshly trained network (AdamW, one-cycle learning rate, fixed number of epochs)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = SitterNet()
    female = torch.tensor([p.female for p in people], dtype=torch.float32)
    age = torch.tensor([AGE_GROUPS.index(age_group(p.age)) for p in people])
    weights = group_weights(people)
    source = torch.from_numpy(images)
    steps = epochs * (len(people) // batch_size)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    net.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(people), generator=generator)
        total = 0.0
        for i in range(len(people) // batch_size):
            index = order[i * batch_size:(i + 1) * batch_size]
            logits = net(standardise(augment(source[index], generator)))
            loss = (F.binary_cross_entropy_with_logits(logits[:, 0], female[index], reduction="none")
                    + F.cross_entropy(logits[:, 1:], age[index], reduction="none", label_smoothing=0.05))
            loss = (loss * weights[index]).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{epochs}  loss {total / (len(people) // batch_size):.3f}  "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return net.eval()


def evaluate(net: SitterNet, people: list[Labelled], images: np.ndarray) -> dict:
    """Sex and age-group accuracy, overall and per group, of the app's own reading
    (:func:`portrait.sitter.probabilities` on the centre crop)."""
    offset = (images.shape[1] - INPUT_SIDE) // 2
    centre = images[:, offset:offset + INPUT_SIDE, offset:offset + INPUT_SIDE]
    p_female, ages = probabilities(net, centre)
    sex_right = (p_female >= 0.5) == np.array([p.female for p in people])
    truth = np.array([AGE_GROUPS.index(age_group(p.age)) for p in people])
    age_right = ages.argmax(1) == truth

    def summary(mask: np.ndarray) -> dict:
        return {"n": int(mask.sum()), "sex": round(float(sex_right[mask].mean()), 3),
                "age_group": round(float(age_right[mask].mean()), 3)}

    groups = [p.group for p in people]
    confusion = np.zeros((len(AGE_GROUPS), len(AGE_GROUPS)), int)
    np.add.at(confusion, (truth, ages.argmax(1)), 1)
    return {**summary(np.ones(len(people), bool)),
            "per_group": {g: summary(np.array(groups) == g) for g in sorted(set(groups))},
            "age_confusion_rows_true_cols_predicted": {AGE_GROUPS[i]: confusion[i].tolist()
                                                       for i in range(len(AGE_GROUPS))}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faces", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("weights/sitter.safetensors"))
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "portrait-studio" / "sitter")
    p.add_argument("--epochs", type=int, default=90)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--validate", action="store_true",
                   help="report on a tenth of the training faces instead of the held-out ones; write nothing")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    people, images = crops(args.faces, labels(args.faces), args.cache)
    held = np.array([data.held_out(person.file) for person in people])
    if args.validate:  # a second split inside the training faces; the held-out ones stay unread
        people, images = [q for q, h in zip(people, held, strict=True) if not h], images[~held]
        held = np.array([data.held_out(person.file + "/validate") for person in people])
    train_people = [q for q, h in zip(people, held, strict=True) if not h]
    test_people = [q for q, h in zip(people, held, strict=True) if h]
    print(f"{len(train_people)} training faces, {len(test_people)} "
          f"{'validation' if args.validate else 'held-out'}: {Counter(q.group for q in train_people)}")

    start = time.perf_counter()
    net = train(train_people, images[~held], args.epochs, args.batch, args.seed)
    minutes = (time.perf_counter() - start) / 60
    result = evaluate(net, test_people, images[held])
    print(f"{'validation' if args.validate else 'held-out'}: sex {result['sex']:.3f}, "
          f"age group {result['age_group']:.3f} (n={result['n']})")
    for group, row in result["per_group"].items():
        print(f"  {group:26s} n={row['n']:3d}  sex {row['sex']:.3f}  age group {row['age_group']:.3f}")
    print("  age confusion (rows true, columns predicted):", result["age_confusion_rows_true_cols_predicted"])
    if args.validate:
        return

    info = {
        "trained": datetime.date.today().isoformat(),
        "task": "sex (m/f) and age group (child <13, young 13-29, adult 30-54, old >=55) of a sitter",
        "training_data": {
            "faces_manifest_sha1": hashlib.sha1((args.faces / "MANIFEST.tsv").read_bytes()).hexdigest()[:12],
            "sources": "UTKFace aligned&cropped chips (labels from file names) and All-Age-Faces "
                       "originals (age from file name, sex from serial number per the dataset README)",
            "licence": "UTKFace: non-commercial research only; AAF: no licence stated. "
                       "Fit for a non-commercial demo only.",
            "train_faces": len(train_people), "held_out_faces": len(test_people),
            "per_group_train": dict(Counter(q.group for q in train_people)),
        },
        "held_out_accuracy": result,
        "training": {"epochs": args.epochs, "batch": args.batch, "seed": args.seed,
                     "minutes": round(minutes, 1), "threads": args.threads,
                     "loss": "BCE(sex) + CE(age group, smoothing 0.05), each race group the same weight"},
        "parameters": sum(t.numel() for t in net.parameters()),
    }
    save(net, args.out, info)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
