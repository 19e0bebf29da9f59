"""The trained generator: loads, keeps shapes, generalises across resolutions, is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open

from portrait.model import Generator
from portrait.styles import STYLES, WEIGHTS, available_styles, load_generator, read_metadata


@pytest.fixture(scope="module")
def generator() -> Generator:
    return load_generator()


@pytest.fixture(scope="module")
def photo(painter, astronaut) -> torch.Tensor:
    aligned = painter(np.asarray(astronaut))[0].aligned
    return torch.from_numpy(aligned).permute(2, 0, 1)[None].float() / 127.5 - 1


def without(generator: Generator, part: str) -> Generator:
    """The same painter with one optional part (``grain``, ``skips``) switched off and its weights
    left out: the ancestor a painter was grown from (``Generator.grown`` refuses to drop parts)."""
    plain = Generator(generator.styles, **{**generator.config, part: False}).eval()
    kept = plain.state_dict()
    plain.load_state_dict({k: v for k, v in generator.state_dict().items() if k in kept})
    return plain


def test_weights_are_trained_fp16_with_provenance() -> None:
    meta = read_metadata()
    assert meta["styles"] == list(STYLES)
    assert meta["info"]["steps"] > 0 and meta["info"]["cpu_minutes"] > 0
    assert "paintings_manifest_sha1" in meta["info"]
    with safe_open(str(WEIGHTS), framework="pt") as handle:
        assert all(handle.get_tensor(k).dtype == torch.float16 for k in handle.keys())


def test_compact(generator: Generator) -> None:
    params = sum(p.numel() for p in generator.parameters())
    assert 0.3e6 < params < 2.5e6
    assert available_styles(generator) == list(STYLES)


@pytest.mark.parametrize("shape", [(256, 256), (512, 512), (384, 256)])
def test_shapes_and_range(generator: Generator, shape: tuple[int, int]) -> None:
    x = torch.rand(1, 3, *shape) * 2 - 1
    with torch.inference_mode():
        y = generator(x, generator.one_hot(["oil"]))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1


def test_deterministic(generator: Generator, photo: torch.Tensor) -> None:
    with torch.inference_mode():
        a = generator(photo, generator.one_hot(["ink"]))
        b = generator(photo, generator.one_hot(["ink"]))
    assert torch.equal(a, b)


def test_grain_starts_at_zero_and_is_fixed_when_painting(generator: Generator, photo: torch.Tensor) -> None:
    """Noise inputs added to a trained painter change nothing until trained; once trained, the
    painting is reproducible (one fixed field) while training draws fresh grain every time."""
    plain = without(generator, "grain")
    grainy = plain.grown(grain=True)
    weights = generator.one_hot(["watercolor"])
    with torch.inference_mode():
        assert torch.equal(grainy(photo, weights), plain(photo, weights))
        for layer in grainy.decoder:
            layer.grain.fill_(0.5)
        painted = grainy(photo, weights)
        assert torch.equal(grainy(photo, weights), painted)
        assert (painted - plain(photo, weights)).abs().mean() > 1e-3
        grainy.train()
        assert not torch.equal(grainy(photo, weights), grainy(photo, weights))


def test_upsampling_is_part_of_the_architecture(generator: Generator, photo: torch.Tensor) -> None:
    """Weights files from before the choice existed paint with nearest-neighbour upsampling; the
    same weights with bilinear upsampling are a different (smoother) painter of the same size."""
    assert Generator(STYLES, 8, 1).config["upsample"] == "nearest"
    with pytest.raises(ValueError, match="upsample"):
        Generator(STYLES, 8, 1, upsample="bicubic")
    other = "nearest" if generator.config["upsample"] == "bilinear" else "bilinear"
    twin = Generator(generator.styles, **{**generator.config, "upsample": other}).eval()
    twin.load_state_dict(generator.state_dict())
    weights = generator.one_hot(["oil"])
    with torch.inference_mode():
        a, b = generator(photo, weights), twin(photo, weights)
    assert a.shape == b.shape and 1e-3 < (a - b).abs().mean() < 0.2


def test_skips_keep_any_grid_checkerboard_from_the_body(generator: Generator, photo: torch.Tensor) -> None:
    """With skips, a checkerboard on the 1/8 grid written into the body's output (the diamond
    lattice) cannot reach the portrait, while the encoder's detail can: its joins start at zero and,
    once trained, carry it. Without skips the same checkerboard shows."""
    weights = generator.one_hot(["oil"])
    plain = without(generator, "skips")
    skipped = plain.grown(skips=True).eval()
    with pytest.raises(ValueError, match="grow"):
        skipped.grown(skips=False)
    cells = photo.shape[-1] // 8
    board = torch.tensor([(-1.0) ** (i + j) for i in range(cells) for j in range(cells)])

    def stamp(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        return output + 2 * output.std() * board.reshape(1, 1, cells, cells)

    with torch.inference_mode():
        for painter, shows in ((plain, True), (skipped, False)):
            before = painter(photo, weights)
            hook = painter.body[-1].register_forward_hook(stamp)
            after = painter(photo, weights)
            hook.remove()
            change = (after - before).abs().mean()
            assert change > 1e-3 if shows else change < 1e-5, (painter.config, change)
        bare = skipped(photo, weights)
        for join in skipped.joins:
            join.weight.normal_(std=0.05)
        assert (skipped(photo, weights) - bare).abs().mean() > 1e-3


def test_resolution_independent(generator: Generator, photo: torch.Tensor) -> None:
    """Painting at 512² then shrinking ≈ painting at 256²: same picture, not a different one."""
    small = F.interpolate(photo, size=256, mode="bilinear", antialias=True, align_corners=False)
    with torch.inference_mode():
        for style in STYLES:
            weights = generator.one_hot([style])
            big = F.interpolate(generator(photo, weights), size=256, mode="bilinear", antialias=True,
                                align_corners=False)
            direct = generator(small, weights)
            blur = lambda t: F.avg_pool2d(t, 8)  # noqa: E731 — compare at the scale of forms, not strokes
            assert (blur(big) - blur(direct)).abs().mean() < 0.12, style


def test_styles_differ_and_blend(generator: Generator, photo: torch.Tensor) -> None:
    with torch.inference_mode():
        oil = generator(photo, generator.one_hot(["oil"]))
        ink = generator(photo, generator.one_hot(["ink"]))
        half = generator(photo, 0.5 * generator.one_hot(["oil"]) + 0.5 * generator.one_hot(["ink"]))
    assert (oil - ink).abs().mean() > 0.05
    # a blend lies between its ends
    assert (half - oil).abs().mean() < (ink - oil).abs().mean()
    assert (half - ink).abs().mean() < (ink - oil).abs().mean()


def test_paints_something_of_the_photo(generator: Generator, photo: torch.Tensor) -> None:
    """Not a constant or noise: the painting's large forms follow the photo's luminance."""
    with torch.inference_mode():
        for style in STYLES:
            out = generator(photo, generator.one_hot([style]))
            luma = lambda t: F.avg_pool2d(t.mean(1, keepdim=True), 16).flatten()  # noqa: E731
            corr = np.corrcoef(luma(out).numpy(), luma(photo).numpy())[0, 1]
            assert corr > 0.5, (style, corr)
