"""Blend two exported generators of one training run in weight space (a "model soup").

    python -m training.blend EARLY.safetensors LATE.safetensors --amount 0.5 \
        --out weights/portrait.safetensors

Why: a late phase of training gains something (phase 4 brought texture, line and paper) and loses
something (it turned oil skin olive and blew out highlights). Both files descend from the same
weights, so the straight line between them stays in one basin and every point on it is a working
painter (Wortsman et al., "Robust fine-tuning of zero-shot models", 2022): ``--amount`` picks how
much of the later run's change is kept. The result records both ends in its metadata.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from portrait.model import Generator
from portrait.styles import load_generator, read_metadata, save_generator


def blend(early: Generator, late: Generator, amount: float) -> Generator:
    """``early + amount · (late − early)`` for every weight; the two must share architecture and styles
    (a painter without grain counts as one with zero grain)."""
    if late.config["grain"] and not early.config["grain"]:
        early = early.grown(grain=True)
    if early.config["grain"] and not late.config["grain"]:
        late = late.grown(grain=True)
    if early.config != late.config or list(early.styles) != list(late.styles):
        raise ValueError("only generators of the same architecture and styles can be blended")
    start, end = early.state_dict(), late.state_dict()
    early.load_state_dict({k: start[k].lerp(end[k], amount) for k in start})
    return early


def blend_files(early_path: Path, late_path: Path, amount: float, out: Path) -> str:
    """Blend two weights files into ``out``, its metadata the later one's plus how it was made; says
    what was saved."""
    early_info = read_metadata(early_path).get("info", {})
    late_info = read_metadata(late_path).get("info", {})
    painter = blend(load_generator(early_path), load_generator(late_path), amount)
    ends = {"early_steps": early_info.get("steps"), "late_steps": late_info.get("steps")}
    if "blend" in early_info:  # a blend of a blend: keep how the early end was made
        ends["early_blend"] = early_info["blend"]
    save_generator(painter, out, {**late_info, "blend": {**ends, "amount": amount}})
    return (f"saved {out}: {1 - amount:g} × step {early_info.get('steps')} + "
            f"{amount:g} × step {late_info.get('steps')}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("early", type=Path)
    p.add_argument("late", type=Path)
    p.add_argument("--amount", type=float, default=0.5, help="share of the later weights (0: early, 1: late)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    print(blend_files(args.early, args.late, args.amount, args.out))


if __name__ == "__main__":
    main()
