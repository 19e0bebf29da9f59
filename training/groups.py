"""Write a balanced groups TSV of held-out UTKFace sitters, for ``evaluate --groups``.

    python -m training.groups --faces ../shared/data/faces --out groups.tsv --per-group 12

A skin-tone spread between groups only means something when each group has as many faces and its
own mix of men and women, of the same range of ages: a group that happens to hold more children
or more women would differ for those reasons. UTKFace labels every face in its file name,
``AGE_GENDER_RACE_DATE.jpg.chip.jpg``, which the faces MANIFEST.tsv keeps as the end of its source
column. Groups are named after UTKFace's race labels ("Others" is no group); only held-out faces
are used (the split ``evaluate`` uses), and nothing but file names is written: the TSV names
files of the data set, so it is written where asked and never committed.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from training import data

#: UTKFace's race labels, by number; 4 ("Others") is left out.
RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian"}
UTK_NAME = re.compile(r"(?:^|/)(\d+)_([01])_(\d)_\d+\.jpg\.chip\.jpg$")


def utk_sitters(faces: Path, ages: tuple[int, int]) -> dict[str, dict[int, list[tuple[int, str]]]]:
    """Held-out UTKFace sitters aged within ``ages``: group → gender (0 male, 1 female) → sorted
    (age, file name)."""
    sitters: dict[str, dict[int, list[tuple[int, str]]]] = {name: {0: [], 1: []} for name in RACES.values()}
    for row in data.manifest(faces):
        match = UTK_NAME.search(row["source"])
        if not match or not data.held_out(row["file"]):
            continue
        age, gender, race = (int(group) for group in match.groups())
        if race in RACES and ages[0] <= age <= ages[1]:
            sitters[RACES[race]][gender].append((age, row["file"]))
    for by_gender in sitters.values():
        for people in by_gender.values():
            people.sort()
    return sitters


def spread(people: list[tuple[int, str]], count: int) -> list[tuple[int, str]]:
    """``count`` of the age-sorted ``people``, evenly across their ages (not the youngest first)."""
    return [people[(2 * i + 1) * len(people) // (2 * count)] for i in range(count)] if count else []


def balanced(sitters: dict[str, dict[int, list[tuple[int, str]]]], per_group: int) -> dict[str, list[str]]:
    """``per_group`` files per group, half women and half men where the group has them (the short
    gender's place is filled from the other)."""
    chosen = {}
    for group, by_gender in sitters.items():
        women = min(len(by_gender[1]), max(per_group // 2, per_group - len(by_gender[0])))
        men = min(len(by_gender[0]), per_group - women)
        chosen[group] = [name for _, name in spread(by_gender[1], women) + spread(by_gender[0], men)]
    return chosen


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=Path, required=True, help="faces folder with its MANIFEST.tsv")
    p.add_argument("--out", type=Path, required=True, help="the TSV to write (outside the repository)")
    p.add_argument("--per-group", type=int, default=12)
    p.add_argument("--ages", type=int, nargs=2, default=(18, 70), metavar=("MIN", "MAX"),
                   help="ages kept (adults by default, so that the groups differ in skin, not in age)")
    args = p.parse_args(argv)
    chosen = balanced(utk_sitters(args.faces, tuple(args.ages)), args.per_group)
    lines = ["file\tgroup"] + [f"{name}\t{group}" for group, names in chosen.items() for name in names]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    for group, names in chosen.items():
        short = " (fewer than asked: the held-out set has no more)" if len(names) < args.per_group else ""
        print(f"{group}: {len(names)} faces{short}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
