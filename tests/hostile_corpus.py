"""Hostile uploads for the portrait pipeline, built in memory from scikit-image's sample photos.

Visitors send whatever their browser, phone or script produces: renamed documents, half-uploaded
files, decompression bombs, CMYK scans, rotated phone photos, animations, covered webcams. Each
case here is one such upload with what a visitor should get back: a painted face (``"portrait"``),
a short explanation (``"message"``), or either of the two (``"either"``, where a detector may fairly
go both ways). Nothing is committed as a binary: every case is generated on demand, and only
when asked for, so collecting the tests costs nothing and memory holds one case at a time.
"""

from __future__ import annotations

import gzip
import io
import itertools
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from skimage import data

Expect = Literal["portrait", "message", "either"]


@dataclass(frozen=True)
class Spec:
    """One upload, described: how to make its bytes (some take a moment: the bombs, the 108 MP
    photo), the file name suffix a browser would send, and what the visitor should get."""

    name: str
    make: Callable[[], bytes]
    expect: Expect
    suffix: str = ".jpg"
    #: True: the app's route (Gradio hands over a temporary file). False: the library's route (bytes).
    as_file: bool = True
    #: When painted, at least this many faces must be offered (group photos).
    faces: int = 1

    def build(self) -> Case:
        return Case(**vars(self), data=self.make())


@dataclass(frozen=True)
class Case(Spec):
    """One upload with its bytes."""

    data: bytes = b""

    def write(self, folder: Path) -> Path:
        """Save the upload under its (possibly lying) name, as Gradio would store it."""
        folder.mkdir(parents=True, exist_ok=True)  # the app removes an upload's emptied folder
        path = folder / f"{self.name}{self.suffix}"
        path.write_bytes(self.data)
        return path


# --- source photos -------------------------------------------------------------------------------

#: The astronaut's head with some context (x0, y0, x1, y1): what MTCNN needs to call it a face.
HEAD = (140, 20, 310, 220)
#: Her face alone, tighter than any detector likes.
FACE = (175, 55, 275, 180)


@cache
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@cache
def upright() -> Image.Image:
    """The photo the EXIF cases must decode to: portrait-shaped, so a missed rotation shows."""
    return astronaut().crop((64, 0, 448, 512))


def head(side: int | None = None) -> Image.Image:
    crop = astronaut().crop(HEAD)
    return crop if side is None else crop.resize((side * crop.width // crop.height, side))


def sample(name: str) -> Image.Image:
    """A scikit-image sample photo as RGB."""
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def canvas(size: tuple[int, int], photo: Image.Image | None = None, at: tuple[int, int] | None = None,
           fill: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """A flat background with ``photo`` pasted at ``at`` (centred by default), like a wide shot."""
    image = Image.new("RGB", size, fill)
    if photo is not None:
        at = at or ((size[0] - photo.width) // 2, (size[1] - photo.height) // 2)
        image.paste(photo, at)
    return image


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = len(mode)
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8), mode)


def gray16() -> Image.Image:
    """The astronaut as a 16-bit grayscale scan (mode I;16, full 0-65535 range)."""
    return Image.fromarray(np.asarray(astronaut().convert("L")).astype(np.uint16) * 257)


def gray_float() -> Image.Image:
    """The astronaut as 32-bit float grayscale in 0..1, as scientific software writes TIFFs."""
    return Image.fromarray(np.asarray(astronaut().convert("L"), np.float32) / 255)


def scaled(image: Image.Image, gain: float, offset: float = 0.0) -> Image.Image:
    """Brightness/contrast change, as from an under- or over-exposed webcam."""
    array = np.asarray(image, dtype=np.float32) * gain + offset
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg(image: Image.Image, **params) -> bytes:
    return encode(image, "JPEG", quality=params.pop("quality", 90), **params)


def with_alpha(image: Image.Image, alpha: Image.Image | int) -> Image.Image:
    rgba = image.convert("RGBA")
    rgba.putalpha(alpha)
    return rgba


def oval_mask(size: tuple[int, int]) -> Image.Image:
    """Opaque oval on a transparent field: a cut-out portrait, as sticker apps export."""
    yy, xx = np.mgrid[: size[1], : size[0]]
    inside = ((xx - size[0] / 2) / (size[0] / 2)) ** 2 + ((yy - size[1] / 2) / (size[1] / 2)) ** 2 <= 0.8
    return Image.fromarray((inside * 255).astype(np.uint8))


def animation(fmt: str, **params) -> bytes:
    """Three frames, the face first; a page shows frame one, so that is the one to paint."""
    frames = [astronaut(), sample("coffee").resize((512, 512)), noise((512, 512))]
    if fmt == "GIF":
        frames = [frame.quantize(256) for frame in frames]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=200, loop=0, **params)


def group(columns: int, rows: int, side: int) -> Image.Image:
    """A class photo: the astronaut's head tiled ``columns × rows`` times."""
    tile = head(side)
    image = Image.new("RGB", (columns * tile.width, rows * tile.height), (90, 90, 90))
    for column, row in itertools.product(range(columns), range(rows)):
        image.paste(tile, (column * tile.width, row * tile.height))
    return image


# --- hand-made containers -------------------------------------------------------------------------

def png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def png(width: int, height: int, rows: Iterable[bytes], bit_depth: int = 8, colour_type: int = 0,
        extra: bytes = b"") -> bytes:
    """A PNG written chunk by chunk, rows streamed through zlib: a bomb never exists unpacked."""
    deflate = zlib.compressobj(9)
    idat = b"".join(deflate.compress(b"\0" + row) for row in rows) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + extra + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def bilevel_png(width: int, height: int) -> bytes:
    """An all-black 1-bit PNG: 30000×30000 packs into ~110 kB and would unpack to 900 MB."""
    return png(width, height, itertools.repeat(bytes((width + 7) // 8), height), bit_depth=1)


def png_rgb16(image: Image.Image) -> bytes:
    """A 16-bit-per-channel RGB PNG, as raw converters write (Pillow cannot save one)."""
    array = np.asarray(image.convert("RGB")).astype(">u2") * 257
    return png(image.width, image.height, (row.tobytes() for row in array), bit_depth=16, colour_type=2)


def png_ztxt_bomb() -> bytes:
    """A valid small PNG whose metadata chunk inflates to 64 MB of zeros."""
    text = png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(bytes(64 * 2**20), 9))
    small = head(128)
    return png(small.width, small.height, (row.tobytes() for row in np.asarray(small)), colour_type=2,
               extra=text)


def patch_png_size(encoded: bytes, width: int, height: int, fix_crc: bool = True) -> bytes:
    """Rewrite the size in IHDR (always the first chunk), with a matching checksum or not."""
    ihdr = bytearray(encoded[8:33])
    ihdr[8:16] = struct.pack(">II", width, height)
    if fix_crc:
        ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return encoded[:8] + bytes(ihdr) + encoded[33:]


def patch_jpeg_size(encoded: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame size in the baseline SOF0 segment."""
    sof = encoded.index(b"\xff\xc0")
    return encoded[: sof + 5] + struct.pack(">HH", height, width) + encoded[sof + 9:]


def patch_bmp_size(encoded: bytes, width: int, height: int) -> bytes:
    """Rewrite the size in a BMP's BITMAPINFOHEADER."""
    return encoded[:18] + struct.pack("<ii", width, height) + encoded[26:]


def zero_after(encoded: bytes, marker: bytes) -> bytes:
    """Keep the container intact but blank the payload after ``marker`` (AVIF: the coded pixels)."""
    start = encoded.index(marker) + len(marker)
    return encoded[:start] + bytes(len(encoded) - start)


def flip_bits(encoded: bytes, count: int, seed: int, within: int = 512) -> bytes:
    """``count`` random bit flips in the first ``within`` bytes, where the headers live: a bad disk."""
    rng = random.Random(seed)
    flipped = bytearray(encoded)
    for _ in range(count):
        flipped[rng.randrange(min(within, len(flipped)))] ^= 1 << rng.randrange(8)
    return bytes(flipped)


def patch_gif_screen(encoded: bytes, width: int, height: int) -> bytes:
    """Rewrite the GIF logical screen size, which Pillow takes as the image size."""
    return encoded[:6] + struct.pack("<HH", width, height) + encoded[10:]


def ico_around(payload: bytes) -> bytes:
    """An .ico whose single entry is ``payload`` (a PNG), as modern icons are stored."""
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(payload), 22)
    return struct.pack("<HHH", 0, 1, 1) + entry + payload


def exif(orientation: int | None = None, description: str | None = None) -> bytes:
    tags = Image.Exif()
    if orientation is not None:
        tags[0x0112] = orientation
    if description is not None:
        tags[0x010E] = description
    return tags.tobytes()


#: What to do to an upright photo so that a viewer honouring EXIF Orientation shows it upright:
#: the inverse of the display transform the EXIF 2.3 spec gives for each value.
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # displayed mirrored back
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,  # mirror + rotate 270° CW: its own inverse
    6: Image.Transpose.ROTATE_90,  # displayed after rotating 90° CW, so store 90° CCW
    7: Image.Transpose.TRANSVERSE,  # mirror + rotate 90° CW: its own inverse
    8: Image.Transpose.ROTATE_270,  # displayed after rotating 90° CCW, so store 90° CW
}


def oriented(orientation: int, fmt: str = "JPEG") -> bytes:
    """The upright photo stored sideways/mirrored, with the EXIF tag that puts it right."""
    transpose = STORE_FOR_ORIENTATION[orientation]
    stored = upright() if transpose is None else upright().transpose(transpose)
    return encode(stored, fmt, exif=exif(orientation), **({"quality": 95} if fmt == "JPEG" else {}))


def exif_garbage(seed: int) -> bytes:
    """An APP1 block that says Exif and then lies: a TIFF header with an IFD offset far away."""
    return b"Exif\0\0" + b"MM\0\x2a" + struct.pack(">I", 0x7FFFFFF0) + random_bytes(2000, seed)


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def zip_of_photo() -> bytes:
    """A selfie inside a .zip, as a phone's "share" sometimes packs it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("selfie.jpg", jpeg(astronaut()))
    return buffer.getvalue()


def truncated(encoded: bytes, keep: int | float) -> bytes:
    """The first ``keep`` bytes (or that fraction) of an upload cut off mid-transfer."""
    return encoded[: keep if isinstance(keep, int) else int(len(encoded) * keep)]


@cache
def astronaut_jpeg() -> bytes:
    return jpeg(astronaut())


@cache
def astronaut_png() -> bytes:
    return encode(astronaut(), "PNG")


def huge_photo() -> bytes:
    """12000×9000 (108 MP, under the limit): flat wall, the astronaut blown up 6× in the middle."""
    return jpeg(canvas((12000, 9000), astronaut().resize((3072, 3072), Image.Resampling.BILINEAR),
                       fill=(180, 160, 140)), quality=80)


TEXT = b"Hello! This is my selfie, I promise.\n"
HTML = b"<!DOCTYPE html><html><body><img src='selfie.jpg'><script>alert(1)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">'
       b'<circle cx="256" cy="256" r="200" fill="peachpuff"/><circle cx="190" cy="210" r="20"/>'
       b'<circle cx="320" cy="210" r="20"/><path d="M180 330 Q256 400 330 330" stroke="black"/></svg>')
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
       b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 512 512\n"
       b"newpath 256 256 200 0 360 arc fill showpage\n%%EOF\n")
HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64)  # an iPhone photo's opening box; no decoder


# --- the corpus -----------------------------------------------------------------------------------

def _specs() -> list[Spec]:
    s = Spec
    specs = [
        # Not images at all, mostly under an image's name.
        s("empty-bytes", lambda: b"", "message", as_file=False),
        s("zero-byte-file", lambda: b"", "message"),
        s("text-named-jpg", lambda: TEXT, "message"),
        s("utf16-text-named-jpg", lambda: TEXT.decode().encode("utf-16"), "message"),
        s("html-named-jpg", lambda: HTML, "message"),
        s("svg-named-jpg", lambda: SVG, "message"),
        s("svg-named-svg", lambda: SVG, "message", ".svg"),
        s("pdf-named-jpg", lambda: PDF, "message"),
        s("pdf-named-pdf", lambda: PDF, "message", ".pdf"),
        s("eps-named-jpg", lambda: EPS, "message"),
        s("heic-iphone-header", lambda: HEIC, "message", ".heic"),
        s("zip-holding-a-jpeg", lambda: zip_of_photo(), "message"),
        s("gzipped-jpeg", lambda: gzip.compress(astronaut_jpeg()), "message"),
        s("elf-binary-named-jpg", lambda: b"\x7fELF\x02\x01\x01" + bytes(4000), "message"),
        s("json-named-png", lambda: b'{"image": "selfie.png"}', "message", ".png"),
        s("random-bytes-1mb", lambda: random_bytes(2**20), "message"),
        s("jpeg-magic-then-html", lambda: b"\xff\xd8\xff\xe0" + HTML, "message"),
        s("png-magic-then-text", lambda: b"\x89PNG\r\n\x1a\n" + TEXT * 100, "message", ".png"),
        # Cut off mid-upload.
        *[s(f"jpeg-truncated-{label}", lambda keep=keep: truncated(astronaut_jpeg(), keep), "message")
          for label, keep in [("2b", 2), ("20b", 20), ("300b", 300), ("25pct", 0.25), ("50pct", 0.5),
                              ("90pct", 0.9)]],
        s("jpeg-missing-end-marker", lambda: astronaut_jpeg()[:-2], "either"),
        *[s(f"png-truncated-{label}", lambda keep=keep: truncated(astronaut_png(), keep), "message", ".png")
          for label, keep in [("signature", 8), ("after-ihdr", 33), ("10pct", 0.1), ("50pct", 0.5),
                              ("99pct", 0.99)]],
        s("png-missing-iend", lambda: astronaut_png()[:-12], "either", ".png"),
        s("webp-truncated-50pct", lambda: truncated(encode(astronaut(), "WEBP"), 0.5), "message", ".webp"),
        s("gif-truncated-50pct", lambda: truncated(encode(astronaut(), "GIF"), 0.5), "message", ".gif"),
        # Bombs and lying headers.
        s("png-bomb-30000x30000", lambda: bilevel_png(30000, 30000), "message", ".png"),
        s("png-bomb-just-over-limit", lambda: bilevel_png(11000, 11000), "message", ".png"),
        s("png-flat-100mp", lambda: bilevel_png(10000, 10000), "message", ".png"),
        s("png-ztxt-bomb", png_ztxt_bomb, "either", ".png"),
        s("ico-holding-png-bomb", lambda: ico_around(bilevel_png(30000, 30000)), "message", ".ico"),
        s("gif-screen-65535", lambda: patch_gif_screen(encode(head(64), "GIF"), 65535, 65535), "message",
          ".gif"),
        s("jpeg-sof-claims-65500", lambda: patch_jpeg_size(astronaut_jpeg(), 65500, 65500), "message"),
        s("jpeg-sof-claims-4000x3000", lambda: patch_jpeg_size(astronaut_jpeg(), 4000, 3000), "either"),
        s("png-ihdr-claims-larger", lambda: patch_png_size(astronaut_png(), 2048, 2048), "message", ".png"),
        s("png-ihdr-claims-smaller", lambda: patch_png_size(astronaut_png(), 256, 256), "either", ".png"),
        s("bmp-header-claims-huge", lambda: patch_bmp_size(encode(astronaut(), "BMP"), 500_000, 500_000),
          "message", ".bmp"),
        s("avif-pixels-zeroed", lambda: zero_after(encode(astronaut(), "AVIF"), b"mdat"), "message", ".avif"),
        s("png-ihdr-bad-checksum", lambda: patch_png_size(astronaut_png(), 600, 600, fix_crc=False),
          "message", ".png"),
        # A failing disk or a bad transfer: a few flipped bits in the headers.
        *[s(f"{fmt.lower()}-header-bit-flips", lambda fmt=fmt: flip_bits(encode(astronaut(), fmt), 8, seed=5),
            "either", f".{fmt.lower()}") for fmt in ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP")],
        # Extreme sizes.
        s("png-1x1", lambda: encode(Image.new("RGB", (1, 1), "white"), "PNG"), "message", ".png"),
        s("png-31x31-face", lambda: encode(head(31), "PNG"), "message", ".png"),
        s("jpeg-20000x100-strip", lambda: jpeg(canvas((20000, 100), head(100))), "either"),
        s("jpeg-100x20000-strip", lambda: jpeg(canvas((100, 20000), head(100))), "either"),
        s("jpeg-12000x9000", huge_photo, "portrait"),
        s("jpeg-64px-face-photo", lambda: jpeg(head(64)), "either"),
        # Colour modes and bit depths.
        s("jpeg-cmyk", lambda: jpeg(astronaut().convert("CMYK")), "portrait"),
        s("jpeg-grayscale", lambda: jpeg(astronaut().convert("L")), "portrait"),
        s("jpeg-progressive", lambda: jpeg(astronaut(), progressive=True), "portrait"),
        s("jpeg-quality-5", lambda: jpeg(astronaut(), quality=5), "either"),
        s("jpeg-bytes-not-file", astronaut_jpeg, "portrait", as_file=False),
        s("png-rgb", astronaut_png, "portrait", ".png"),
        s("png-bytes-not-file", astronaut_png, "portrait", ".png", as_file=False),
        s("png-16bit-gray", lambda: encode(gray16(), "PNG"), "portrait", ".png"),
        s("png-16bit-rgb", lambda: png_rgb16(astronaut()), "portrait", ".png"),
        s("png-palette-transparent", lambda: encode(astronaut().quantize(255), "PNG", transparency=0),
          "portrait", ".png"),
        s("png-palette-16-colours", lambda: encode(astronaut().quantize(16), "PNG"), "portrait", ".png"),
        s("png-rgba-opaque", lambda: encode(with_alpha(astronaut(), 255), "PNG"), "portrait", ".png"),
        s("png-rgba-cutout", lambda: encode(with_alpha(astronaut(), oval_mask((512, 512))), "PNG"),
          "portrait", ".png"),
        s("png-rgba-fully-transparent", lambda: encode(with_alpha(astronaut(), 0), "PNG"), "message", ".png"),
        s("png-la", lambda: encode(with_alpha(astronaut(), oval_mask((512, 512))).convert("LA"), "PNG"),
          "portrait", ".png"),
        s("png-grayscale", lambda: encode(astronaut().convert("L"), "PNG"), "portrait", ".png"),
        s("png-bilevel", lambda: encode(astronaut().convert("1"), "PNG"), "either", ".png"),
        s("png-exif-orientation-6", lambda: oriented(6, "PNG"), "portrait", ".png"),
        s("apng-animated", lambda: animation("PNG"), "portrait", ".png"),
        # Other containers browsers and phones produce.
        s("webp-lossy", lambda: encode(astronaut(), "WEBP", quality=80), "portrait", ".webp"),
        s("webp-lossless", lambda: encode(astronaut(), "WEBP", lossless=True), "portrait", ".webp"),
        s("webp-alpha", lambda: encode(with_alpha(astronaut(), oval_mask((512, 512))), "WEBP"), "portrait",
          ".webp"),
        s("webp-exif-orientation-8", lambda: oriented(8, "WEBP"), "portrait", ".webp"),
        s("webp-animated", lambda: animation("WEBP"), "portrait", ".webp"),
        s("gif-static", lambda: encode(astronaut(), "GIF"), "portrait", ".gif"),
        s("gif-animated", lambda: animation("GIF"), "portrait", ".gif"),
        s("avif", lambda: encode(astronaut(), "AVIF", quality=70), "portrait", ".avif"),
        s("mpo-two-frames", lambda: encode(astronaut(), "MPO", save_all=True,
                                           append_images=[astronaut().transpose(Image.Transpose.ROTATE_90)]),
          "portrait"),
        s("bmp-24bit", lambda: encode(astronaut(), "BMP"), "portrait", ".bmp"),
        s("bmp-8bit-palette", lambda: encode(astronaut().quantize(256), "BMP"), "portrait", ".bmp"),
        s("tiff-raw", lambda: encode(astronaut(), "TIFF"), "portrait", ".tiff"),
        s("tiff-lzw", lambda: encode(astronaut(), "TIFF", compression="tiff_lzw"), "portrait", ".tif"),
        s("tiff-jpeg", lambda: encode(astronaut(), "TIFF", compression="jpeg"), "portrait", ".tif"),
        s("tiff-cmyk", lambda: encode(astronaut().convert("CMYK"), "TIFF"), "portrait", ".tif"),
        s("tiff-16bit-gray", lambda: encode(gray16(), "TIFF"), "portrait", ".tif"),
        s("tiff-float32", lambda: encode(gray_float(), "TIFF"), "portrait", ".tif"),
        s("tiff-multipage", lambda: encode(astronaut(), "TIFF", save_all=True,
                                           append_images=[noise((512, 512))]), "portrait", ".tif"),
        s("ico-256", lambda: encode(astronaut().resize((256, 256)), "ICO", sizes=[(256, 256)]), "portrait",
          ".ico"),
        s("ico-multi-size", lambda: encode(astronaut().resize((256, 256)), "ICO",
                                           sizes=[(16, 16), (64, 64), (256, 256)]), "either", ".ico"),
        # Formats Pillow reads but no browser or phone sends: refused, their decoders are attack surface.
        s("ppm-netpbm", lambda: encode(astronaut(), "PPM"), "message", ".ppm"),
        s("tga", lambda: encode(astronaut(), "TGA"), "message", ".tga"),
        s("psd-header", lambda: b"8BPS\0\1" + bytes(6) + struct.pack(">HIIHH", 3, 512, 512, 8, 3) + bytes(64),
          "message", ".psd"),
        # Metadata: orientation (the face must come out upright), oversized and broken blocks.
        *[s(f"jpeg-exif-orientation-{n}", lambda n=n: oriented(n), "portrait") for n in range(1, 9)],
        s("jpeg-exif-orientation-0", lambda: jpeg(astronaut(), exif=exif(0)), "portrait"),
        s("jpeg-exif-orientation-9", lambda: jpeg(astronaut(), exif=exif(9)), "portrait"),
        s("jpeg-exif-garbage-offsets", lambda: jpeg(astronaut(), exif=exif_garbage(1)), "portrait"),
        s("jpeg-exif-random-bytes", lambda: jpeg(astronaut(), exif=b"Exif\0\0" + random_bytes(3000, 2)),
          "portrait"),
        s("jpeg-exif-60kb", lambda: jpeg(astronaut(), exif=exif(1, "x" * 60_000)), "portrait"),
        s("jpeg-icc-4mb", lambda: jpeg(astronaut(), icc_profile=random_bytes(4 * 2**20, 3)), "portrait"),
        s("jpeg-comment-60kb", lambda: jpeg(astronaut(), comment=b"c" * 60_000), "portrait"),
        s("jpeg-trailing-1mb", lambda: astronaut_jpeg() + random_bytes(2**20, 4), "portrait"),
        # Faces in awkward places.
        s("face-20px", lambda: jpeg(canvas((640, 480), head(45))), "either"),
        s("face-40px-in-4000px-photo", lambda: jpeg(canvas((4000, 3000), head(90))), "either"),
        s("face-filling-frame", lambda: jpeg(astronaut().crop(FACE).resize((800, 1000))), "either"),
        s("face-cut-by-left-border", lambda: jpeg(canvas((512, 512), astronaut(), at=(-200, 0))), "either"),
        s("face-cut-by-top-border", lambda: jpeg(canvas((512, 512), astronaut(), at=(0, -110))), "either"),
        # Phone photos saved sideways, their EXIF turn stripped: turned back when no face is found
        # as they are (at 270° MTCNN takes a patch of the suit for a face, so that one is "either").
        s("face-rotated-90", lambda: jpeg(astronaut().transpose(Image.Transpose.ROTATE_90)), "portrait"),
        s("face-rotated-270", lambda: jpeg(astronaut().transpose(Image.Transpose.ROTATE_270)), "either"),
        s("face-upside-down", lambda: jpeg(astronaut().transpose(Image.Transpose.ROTATE_180)), "portrait"),
        s("face-tilted-30", lambda: jpeg(astronaut().rotate(30, Image.Resampling.BILINEAR)), "either"),
        s("face-profile-squeezed", lambda: jpeg(astronaut().resize((180, 512))), "either"),
        s("face-mirrored", lambda: jpeg(ImageOps.mirror(astronaut())), "portrait"),
        s("face-blurred", lambda: jpeg(astronaut().filter(ImageFilter.GaussianBlur(4))), "either"),
        s("face-webcam-720p", lambda: jpeg(canvas((1280, 720), astronaut())), "portrait"),
        s("group-12-faces", lambda: jpeg(group(4, 3, 200)), "portrait", faces=10),
        s("group-24-faces", lambda: jpeg(group(6, 4, 160)), "portrait", faces=20),
        s("cameraman", lambda: jpeg(sample("camera")), "either"),
        # Lighting.
        s("all-black-covered-webcam", lambda: jpeg(canvas((640, 480), fill=(0, 0, 0))), "message"),
        s("all-white", lambda: jpeg(canvas((640, 480), fill=(255, 255, 255))), "message"),
        s("very-dark", lambda: jpeg(scaled(astronaut(), 0.08)), "either"),
        s("very-bright", lambda: jpeg(scaled(astronaut(), 0.3, 180)), "either"),
        s("low-contrast", lambda: jpeg(scaled(astronaut(), 0.25, 96)), "either"),
        # No face.
        s("no-face-coffee", lambda: jpeg(sample("coffee")), "message"),
        s("no-face-cat", lambda: jpeg(sample("chelsea")), "either"),
        s("no-face-rocket", lambda: jpeg(sample("rocket")), "message"),
        s("no-face-bricks", lambda: jpeg(sample("brick")), "message"),
        s("noise-rgb", lambda: jpeg(noise((640, 480))), "message"),
        s("noise-gray-png", lambda: encode(noise((640, 480), "L", seed=1), "PNG"), "message", ".png"),
        # Shapes.
        s("aspect-4-to-1", lambda: jpeg(canvas((2048, 512), astronaut())), "portrait"),
        s("aspect-1-to-4", lambda: jpeg(canvas((512, 2048), astronaut())), "portrait"),
        s("aspect-12-to-1", lambda: jpeg(canvas((6144, 512), astronaut())), "either"),
    ]
    assert len({spec.name for spec in specs}) == len(specs), "case names must be unique"
    return specs


SPECS: dict[str, Spec] = {spec.name: spec for spec in _specs()}
NAMES: list[str] = list(SPECS)


def build(name: str) -> Case:
    return SPECS[name].build()


def cases() -> Iterator[Case]:
    """Every case, built one at a time: for scripts (trying a new decoder, timing the corpus).

    The tests build by name instead, so that collecting them builds nothing.
    """
    return (spec.build() for spec in SPECS.values())
