"""Turn whatever a browser, phone or script sends into a safe RGB image, or a friendly error.

Every user-facing failure is an :class:`InputError` whose message can be shown as is: no paths,
no exception names. Decoding is bounded before any pixel is read, so a decompression bomb costs
nothing.
"""

from __future__ import annotations

import io
import os
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from portrait.privacy import forget

#: Largest image we agree to decode (a 12000×9000 scan is 108 MP; beyond this it is a bomb).
MAX_PIXELS = 120_000_000
#: Files larger than this are refused before decoding (phones produce < 20 MB).
MAX_FILE_BYTES = 40 * 1024 * 1024
#: Photos are shrunk to this long side right after decoding: faces stay far above MTCNN's
#: minimum and every later stage costs the same whatever the camera.
WORKING_SIDE = 1600
#: Smaller than this on either side there is no face to paint.
MIN_SIDE = 32
#: How long a read upload is remembered for identical uploads still waiting (see Uploads).
TWIN_SECONDS = 120

# Pillow's own guard, for any other code path that decodes (it raises above 2× this).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: The containers browsers, phones and cameras actually send. Pillow's rarer decoders (EPS runs
#: Ghostscript; PSD, TGA, PCX, SGI, FLI...) are where its security fixes cluster, so a file is only
#: ever tried against these. ``Image.open`` fails on a name it does not know, hence the filter.
Image.init()
FORMATS = tuple(name for name in ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "BMP", "TIFF", "ICO")
                if name in Image.OPEN)


class InputError(ValueError):
    """A problem with the user's image, worded so that it can be shown to the user verbatim."""


NOT_AN_IMAGE = "This file isn't an image we can read. Please use a JPEG, PNG, WebP or GIF photo."
DAMAGED = "This image file is damaged or incomplete. Please try another photo."
TOO_LARGE = ("That image is too large to process. "
             f"Please use a photo under {MAX_PIXELS // 1_000_000} megapixels.")


def load_image(data: bytes | bytearray | str | os.PathLike | Image.Image | np.ndarray | None) -> Image.Image:
    """Decode ``data`` into an upright 8-bit RGB image no larger than :data:`WORKING_SIDE`.

    Accepts encoded bytes, a file path (Gradio's temp file), a PIL image or an array. Applies EXIF
    orientation, takes the first frame of animations, flattens transparency onto white and maps
    16-bit, palette, CMYK and grayscale images to RGB.
    """
    if data is None:
        raise InputError("No image received. Take a photo with the webcam or choose a file.")
    if isinstance(data, np.ndarray):
        return _decode(Image.fromarray(_array_to_uint8(data)))
    if isinstance(data, Image.Image):
        return _decode(data)
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise InputError(_too_big_bytes(size))
            data = path.read_bytes()
        except OSError as error:  # gone (a twin upload deleted it) or unreadable
            raise InputError("No image received. Take a photo with the webcam or choose a file.") from error
    if len(data) == 0:
        raise InputError("The file is empty. Please choose a photo.")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(_too_big_bytes(len(data)))
    try:
        with warnings.catch_warnings():
            # Between 1× and 2× MAX_PIXELS Pillow only warns; _decode refuses those with their size.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, MemoryError) as error:  # a header claiming gigapixels
        raise InputError(TOO_LARGE) from error
    except Exception as error:
        # Any exception while parsing untrusted bytes means "not a file we can read": Pillow's
        # plugins raise UnidentifiedImageError, but malformed headers also give struct.error,
        # IndexError, KeyError, RuntimeError (AVIF)...
        raise InputError(NOT_AN_IMAGE) from error
    return _decode(image)


class Uploads:
    """Read each uploaded file into memory and delete it at once, yet serve its twins still queued.

    Gradio stores an upload at ``<hash of its bytes>/<name>``, so two visitors sending the same
    file, or one visitor sending it twice, share one path: once the first is read and deleted, the
    second would find nothing ("No image received"). So the outcome of each read (photo or
    message) is remembered, in memory only, for the last ``remember`` reads (a twin cannot wait
    behind more than the queue holds) and at most TWIN_SECONDS.
    """

    def __init__(self, remember: int, seconds: float = TWIN_SECONDS) -> None:
        self.remember, self.seconds = remember, seconds
        self.recent: OrderedDict[str, tuple[float, Image.Image | str]] = OrderedDict()
        self.lock = threading.Lock()

    def read(self, path: str | None) -> Image.Image:
        """The upload at ``path`` as :func:`load_image` gives it; the file is gone afterwards."""
        try:
            outcome = self._recall(path)
            if outcome is None:
                outcome = self._load(path)
                self._remember(path, outcome)
        finally:
            forget(path)  # also after a recall: a re-upload of the same bytes recreates the file
        if isinstance(outcome, str):
            raise InputError(outcome)
        return outcome

    def _recall(self, path: str | None) -> Image.Image | str | None:
        with self.lock:
            now = time.monotonic()
            while self.recent and now - next(iter(self.recent.values()))[0] > self.seconds:
                self.recent.popitem(last=False)  # oldest first
            remembered = self.recent.get(path) if path else None
        return None if remembered is None else remembered[1]

    def _remember(self, path: str | None, outcome: Image.Image | str) -> None:
        if path:
            with self.lock:
                self.recent[path] = time.monotonic(), outcome
                while len(self.recent) > self.remember:
                    self.recent.popitem(last=False)

    @staticmethod
    def _load(path: str | None) -> Image.Image | str:
        try:
            return load_image(path)
        except InputError as error:
            return str(error)


def _too_big_bytes(size: int) -> str:
    return (f"That file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB. "
            "Please use a smaller photo.")


def _decode(image: Image.Image) -> Image.Image:
    """Check the declared size, then decode the first frame upright, in RGB, at working size."""
    _check_size(*image.size)  # before a single pixel is decoded: bombs and slivers cost nothing
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if getattr(image, "is_animated", False):
                image.seek(0)
            if image.format in ("JPEG", "MPO"):
                # Let libjpeg decode at a reduced scale: a 12 MP photo decodes 4-8× faster.
                image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode == "1":
                image = image.convert("L")  # bilevel images resize by nearest neighbour only
            # Shrink before any colour work: a 100 MP scan (or a transparent PNG bomb) then costs
            # its decoded size once, not again as 4-byte-per-pixel RGBA copies.
            _shrink(image)
            return _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as error:
        raise InputError(TOO_LARGE) from error
    except InputError:
        raise
    except Exception as error:
        # Decoders of untrusted data fail in many ways (OSError for truncation, but also
        # SyntaxError, struct.error, RuntimeError from libavif, ValueError for odd modes...):
        # all mean a broken file.
        raise InputError(DAMAGED) from error


def _check_size(width: int, height: int) -> None:
    """Refuse sizes that cannot be a photo of a face, with a message saying what to do instead."""
    if width * height > MAX_PIXELS:
        raise InputError(f"That image is {width}×{height} pixels, too large to process. "
                         f"Please use a photo under {MAX_PIXELS // 1_000_000} megapixels.")
    if min(width, height) < MIN_SIDE:
        raise InputError(f"That image is only {width}×{height} pixels. "
                         f"Please use a photo at least {MIN_SIDE} pixels on each side.")
    if min(width, height) * min(1.0, WORKING_SIDE / max(width, height)) < MIN_SIDE:
        # A 20000×100 strip: fitted to the working size, it is 8 pixels tall.
        raise InputError(f"That image is {width}×{height} pixels, too long and thin to hold a face. "
                         "Please crop it closer to the face.")


def _shrink(image: Image.Image) -> None:
    """Fit ``image`` in place within WORKING_SIDE: later stages then cost the same for every camera."""
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Map any Pillow mode to 8-bit RGB; transparent pixels become white, like paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return Image.fromarray(_array_to_uint8(np.asarray(image))).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def _array_to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale an integer or float array of any range to uint8, keeping up to 3 channels."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3)):
        raise InputError(NOT_AN_IMAGE)
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    if array.dtype.kind == "f" and array.size and np.nanmax(array) <= 1.0:
        array = array * 255.0
    elif array.size and np.nanmax(array) > 255:
        array = array * (255.0 / np.nanmax(array))
    return np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)
