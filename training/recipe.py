"""The generator's recipe: the stages that make ``weights/portrait.safetensors``, read from a TOML file.

The recipe (``training/recipe.toml``) is a list of stages run in order by ``python -m
training.train``. A **training stage** continues a resumable state (its own name's, or another
stage's ``state``) up to a step counted from the very first step, or starts one from an earlier
stage's weights (``init``); a stage that continues a state takes the settings of the last stage
that trained it and changes only what it names, as each phase of the painter was run: "from step
24000, the checkerboard term". A **blend stage** mixes two earlier stages' weights
(:mod:`training.blend`). Keys at the top of the file other than the recipe's own (``seed``,
``width``, ``blocks``, ``bank``) are every training stage's defaults. A misspelt key or style is
an error, never ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from portrait.styles import STYLES

RECIPE = Path(__file__).resolve().parent / "recipe.toml"


@dataclass(frozen=True)
class Stage:
    """One training stage: where it starts, when it stops, and the weight of each term."""

    name: str  #: its weights are exported as ``<name>.safetensors`` in the work folder
    steps: int  #: the step it stops at, counted from the recipe's first step
    state: str = ""  #: the resumable state it continues ("": its own, new unless ``init``)
    init: str = ""  #: an earlier stage whose weights a new state starts from (fresh optimisers)
    size: int = 160  #: training crops' side
    batch: int = 4
    lr: float = 1e-3  #: halved every 4000 steps, floor at 1/8
    content: float = 1.0  #: VGG16 content (relu3_3, relu4_3): keeps the person
    light: float = 2.0  #: blurred luminance, weighted towards the face: keeps the light on it
    tv: float = 0.5  #: total variation: no isolated noisy pixels
    colour: float = 2.0  #: the sitter's own colours at the scale of regions
    colour_start: int = 4800
    stats: float = 1.0  #: the style's VGG channel statistics at viewing scale
    stats_style: dict[str, float] = field(default_factory=dict)  #: per-style multipliers of ``stats``
    stats_start: int = 10400
    palette: float = 0.0  #: the tones and colours of one real painting (histogram loss)
    palette_style: dict[str, float] = field(default_factory=dict)  #: per-style multipliers
    checker: float = 0.0  #: checkerboards locked to the decoder's coarse grids
    lattice: float = 0.0  #: a motif stamped into every 8-px cell (the evaluation's lattice)
    lattice_window: int = 0  #: the lattice term measured in tiles of this side (0: the whole crop)
    anywhere: float = 0.0  #: share of photo crops taken anywhere in the frame, not about the face
    adv: float = 1.0  #: the style-conditional patch critic's verdict
    adv_start: int = 4400
    critic_lr: float = 4e-4
    critic_warmup: int = 0  #: critic steps over which its verdict's weight ramps in (fresh critics)
    ema: float = 0.0  #: export a moving average of the weights with this decay per step (0: none)
    anchor: str = ""  #: an earlier stage whose blurred portraits this painter is held to
    anchor_weight: float = 10.0
    grain: bool = False  #: StyleGAN noise inputs in the decoder (canvas and paper grain)
    upsample: str = "nearest"  #: the decoder's upsampling: nearest or bilinear
    skips: bool = False  #: low-pass the body's output and take detail from the encoder
    precision: str = "auto"  #: autocast: auto (bf16 on a GPU or a CPU with native bf16), bf16, fp32

    def __post_init__(self) -> None:
        for table in (self.stats_style, self.palette_style):
            for style, weight in table.items():
                if style not in STYLES:
                    raise ValueError(f"stage {self.name}: unknown style {style!r} "
                                     f"(styles: {', '.join(STYLES)})")
                if weight < 0:
                    raise ValueError(f"stage {self.name}: {style}={weight}: a weight cannot be negative")
        if self.upsample not in ("nearest", "bilinear") or self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"stage {self.name}: upsample is nearest or bilinear, precision auto, bf16 "
                             "or fp32")

    @property
    def continues(self) -> str:
        """The state this stage trains."""
        return self.state or self.name


@dataclass(frozen=True)
class Blend:
    """A blend stage: ``early + amount · (late − early)`` in weight space (a "model soup")."""

    name: str
    blend: tuple[str, str]  #: the early and late stages
    amount: float = 0.5


@dataclass(frozen=True)
class Recipe:
    """The stages, and what every stage shares."""

    stages: tuple[Stage | Blend, ...]
    seed: int = 0
    width: int = 24  #: the generator's channels at full resolution
    blocks: int = 5  #: its residual blocks at 1/8 resolution
    bank: int = 192  #: style crops per style in the Gram and statistics banks

    @property
    def last(self) -> Stage | Blend:
        return self.stages[-1]


def _stage_fields(kind: type) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def read(path: Path = RECIPE) -> Recipe:
    """The recipe in ``path``, checked: names unique, every stage it refers to made before it."""
    text = tomllib.loads(path.read_text())
    tables = text.pop("stage", [])
    own = {key: text.pop(key) for key in ("seed", "width", "blocks", "bank") if key in text}
    unknown = set(text) - _stage_fields(Stage)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    stages: list[Stage | Blend] = []
    last_of_state: dict[str, Stage] = {}
    for table in tables:
        name = table.get("name", "")
        kind = Blend if "blend" in table else Stage
        unknown = set(table) - _stage_fields(kind)
        if unknown:
            raise ValueError(f"{path}: stage {name or '?'} has unknown keys {sorted(unknown)}")
        made = {stage.name for stage in stages}
        if not name or name in made:
            raise ValueError(f"{path}: every stage needs a name of its own ({name!r})")
        if kind is Blend:
            ends = tuple(table["blend"])
            if len(ends) != 2 or not set(ends) <= made:
                raise ValueError(f"{path}: blend {name} needs two earlier stages, not {list(ends)}")
            stages.append(Blend(name, ends, float(table.get("amount", 0.5))))
            continue
        for key in ("init", "anchor"):
            if table.get(key) and table[key] not in made:
                raise ValueError(f"{path}: stage {name}'s {key} {table[key]!r} is not an earlier stage")
        state = table.get("state") or name
        before = last_of_state.get(state)
        if table.get("state") and before is None:
            raise ValueError(f"{path}: stage {name} continues {state!r}, which no earlier stage trained")
        # a continued state keeps its last stage's settings; a new one starts from the defaults
        base = {**text} if before is None else {k: v for k, v in dataclasses.asdict(before).items()
                                                 if k not in ("name", "state", "init")}
        stage = Stage(**{**base, **table})
        if before is not None and stage.steps <= before.steps:
            raise ValueError(f"{path}: stage {name} stops at step {stage.steps}, not after {before.name}")
        last_of_state[state] = stage
        stages.append(stage)
    if not stages:
        raise ValueError(f"{path}: no stages")
    return Recipe(tuple(stages), **own)
