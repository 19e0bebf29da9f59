"""Regenerate the README's picture: ``python docs/make_samples.py``.

Why this script exists: the product is pictures, so the README opens with one, and that picture
must show what the app paints *today*. It is made by the app's own code — ``portrait.pipeline.
Painter`` (the instant portrait, in oil and watercolor on a master's plate as the studio shows
it) and ``portrait.masters.MasterPainter`` (the painter after a master, with the library in
``weights/masters/``) — from a photo that ships inside an installed
package: ``skimage.data.astronaut()``, NASA's portrait of Eileen Collins, in the public domain.
No face photo is committed to this repository; only the paintings made from that one are.
Run it again whenever the weights, the painters or the library change, and commit the images.

Writes, with PIL only:

* ``docs/samples.webp`` — the strip: the photo in the app's bust frame, the instant oil,
  watercolor and ink portraits, and under each the painting after the best-suited master, with
  that master's thumbnail and museum label;
* ``docs/samples/<style>.webp`` — each painting after a master at 512², for a closer look.

WebP (quality 82), so each file stays well under 300 KB (a PNG of the strip is 1.2 MB). About a
minute on 2 cores: most of it is preparing the 53 masters and compiling the synthesis kernels.
Painted in fp32 on the CPU, so the pictures do not depend on which precision a machine races to.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the app's package is one folder up

from portrait.align import align_face, coverage  # noqa: E402
from portrait.masters import PLATED, Master, MasterPainter, thumbnail  # noqa: E402
from portrait.pipeline import Painter  # noqa: E402

OUT = ROOT / "docs"
TILE = 320  #: side of one portrait in the strip
THUMB = 84  #: long side of a master's thumbnail
LABEL = 52  #: height of the band under an instant portrait
CAPTION = 100  #: height of the museum label under a painting after a master
QUALITY = 82
WALL = (38, 34, 31)  #: a dark gallery wall behind the pictures
INK = (232, 226, 214)
MUTED = (176, 168, 156)


def font(size: int) -> ImageFont.ImageFont:
    """A serif face where the system has one (DejaVu ships with most Linux images), else Pillow's."""
    for name in ("DejaVuSerif.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
                 "LiberationSerif-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def wrap(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.ImageFont, width: int) -> list[str]:
    """``text`` broken into lines no wider than ``width`` pixels."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=face) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


#: The instant portrait's caption: the generator alone, or on the master's plate (as the studio).
INSTANT = {False: "the fast generator, a fraction of a second",
           True: "the fast generator on the master's ground"}


def paint_all() -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, tuple[np.ndarray, Master]]]:
    """The astronaut framed, her instant portraits and her paintings after masters, per style."""
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    painter = Painter(bf16=False)
    masters = MasterPainter(painter)
    face = painter.upright_faces(photo)[1][0]
    framed, alignment = align_face(photo, face.landmarks, painter.size)
    seen = coverage(alignment, photo.size)  # the frame pixels that show the photo, as the app passes
    instant, after = {}, {}
    for style in painter.styles:
        instant[style] = painter.portrait(photo, face, style, masters=masters).painted  # the studio's
        start = time.perf_counter()
        painting = masters.paint(framed, style, seen=seen, zoom=alignment.zoom)
        print(f"{style}: after {painting.master.artist} ({time.perf_counter() - start:.1f} s)")
        after[style] = (painting.painted, painting.master)
    return framed, instant, after


def label_band(lines: list[tuple[str, ImageFont.ImageFont, tuple]]) -> Image.Image:
    band = Image.new("RGB", (TILE, LABEL), WALL)
    draw = ImageDraw.Draw(band)
    y = 8
    for text, face, colour in lines:
        draw.text((8, y), text, font=face, fill=colour)
        y += face.size + 4
    return band


def museum_label(style: str, master: Master, title: ImageFont.ImageFont,
                 small: ImageFont.ImageFont) -> Image.Image:
    """As the app shows it: the master's thumbnail, then medium, "after" credit, title and date."""
    band = Image.new("RGB", (TILE, CAPTION), WALL)
    thumb = Image.fromarray(thumbnail(master, THUMB))
    band.paste(thumb, (8, (CAPTION - thumb.height) // 2))
    draw = ImageDraw.Draw(band)
    left = 8 + THUMB + 10
    draw.text((left, 8), style.capitalize(), font=title, fill=INK)
    for i, line in enumerate(wrap(draw, master.credit, small, TILE - left - 6)[:4]):
        draw.text((left, 32 + i * 16), line, font=small, fill=MUTED)
    return band


def strip(framed: np.ndarray, instant: dict[str, np.ndarray],
          after: dict[str, tuple[np.ndarray, Master]]) -> Image.Image:
    """Two rows: the photo and the instant portraits; under each style, the painting after a
    master with its museum label."""
    styles = list(instant)
    columns, gap = 1 + len(styles), 8
    rows = (gap, gap + TILE + LABEL + gap)  # the top of each row
    width = columns * TILE + (columns + 1) * gap
    sheet = Image.new("RGB", (width, rows[1] + TILE + CAPTION + gap), WALL)
    draw = ImageDraw.Draw(sheet)
    title, small, note = font(17), font(13), font(15)

    def place(pixels: np.ndarray, column: int, row: int) -> tuple[int, int]:
        x, y = gap + column * (TILE + gap), rows[row]
        sheet.paste(Image.fromarray(pixels).resize((TILE, TILE), Image.Resampling.LANCZOS), (x, y))
        return x, y + TILE

    sheet.paste(label_band([("The photo", title, INK), ("NASA, public domain (skimage)", small, MUTED)]),
                place(framed, 0, 0))
    for column, style in enumerate(styles, 1):
        sheet.paste(label_band([(f"Instant {style}", title, INK),
                                (INSTANT[style in PLATED], small, MUTED)]),
                    place(instant[style], column, 0))
        sheet.paste(museum_label(style, after[style][1], title, small), place(after[style][0], column, 1))
    text = ("Below: the same photo painted after a master, with patches of one public-domain "
            "painting, a second or two later. Under each, the master it was painted after.")
    for i, line in enumerate(wrap(draw, text, note, TILE - 16)):
        draw.text((gap + 8, rows[1] + 8 + i * 21), line, font=note, fill=INK)
    return sheet


def main() -> None:
    framed, instant, after = paint_all()
    (OUT / "samples").mkdir(parents=True, exist_ok=True)
    strip(framed, instant, after).save(OUT / "samples.webp", quality=QUALITY, method=6)
    for style, (painted, master) in after.items():
        Image.fromarray(painted).save(OUT / "samples" / f"{style}.webp", quality=QUALITY, method=6)
        print(f"{style}: {master.credit}")
    for path in [OUT / "samples.webp", *sorted((OUT / "samples").glob("*.webp"))]:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
