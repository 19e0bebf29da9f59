"""Turn whatever a browser, phone or script sends into a safe RGB image, or a friendly error.

Every user-facing failure is an :class:`InputError` whose message can be shown as is: no paths,
no exception names. Decoding is bounded before any pixel is read, so a decompression bomb costs
nothing.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Largest image we agree to decode (a 12000×9000 scan is 108 MP; beyond this it is a bomb).
MAX_PIXELS = 120_000_000
#: Files larger than this are refused before decoding (phones produce < 20 MB).
MAX_FILE_BYTES = 40 * 1024 * 1024
#: Photos are shrunk to this long side right after decoding: faces stay far above MTCNN's
#: minimum and every later stage costs the same whatever the camera.
WORKING_SIDE = 1600
#: Smaller than this on either side there is no face to paint.
MIN_SIDE = 32

# Pillow's own guard, for any other code path that decodes (it raises above 2× this).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class InputError(ValueError):
    """A problem with the user's image, worded so that it can be shown to the user verbatim."""


NOT_AN_IMAGE = "This file isn't an image we can read. Please use a JPEG, PNG, WebP or GIF photo."


def load_image(data: bytes | bytearray | str | os.PathLike | Image.Image | np.ndarray | None) -> Image.Image:
    """Decode ``data`` into an upright 8-bit RGB image no larger than :data:`WORKING_SIDE`.

    Accepts encoded bytes, a file path (Gradio's temp file), a PIL image or an array. Applies EXIF
    orientation, takes the first frame of animations, flattens transparency onto white and maps
    16-bit, palette, CMYK and grayscale images to RGB.
    """
    if data is None:
        raise InputError("No image received. Take a photo with the webcam or choose a file.")
    if isinstance(data, np.ndarray):
        return _finish(Image.fromarray(_array_to_uint8(data)))
    if isinstance(data, Image.Image):
        return _finish(_decode(data))
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise InputError("No image received. Take a photo with the webcam or choose a file.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(_too_big_bytes(path.stat().st_size))
        data = path.read_bytes()
    if len(data) == 0:
        raise InputError("The file is empty. Please choose a photo.")
    if len(data) > MAX_FILE_BYTES:
        raise InputError(_too_big_bytes(len(data)))
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise InputError(NOT_AN_IMAGE) from error
    return _finish(_decode(image))


def _too_big_bytes(size: int) -> str:
    return (f"That file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB. "
            "Please use a smaller photo.")


def _decode(image: Image.Image) -> Image.Image:
    """Check the declared size, then decode the first frame upright (bounded by MAX_PIXELS)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"That image is {width}×{height} pixels, too large to process. "
                         "Please use a photo under 100 megapixels.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if getattr(image, "is_animated", False):
                image.seek(0)
            if image.format == "JPEG":
                # Let libjpeg decode at a reduced scale: a 12 MP photo decodes 4-8× faster.
                image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            image.load()
            image = ImageOps.exif_transpose(image)
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        raise InputError("This image file is damaged or incomplete. Please try another photo.") from error
    return _to_rgb(image)


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


def _finish(image: Image.Image) -> Image.Image:
    """Reject images too small to hold a face, shrink large ones to the working size."""
    image = _to_rgb(image)
    if min(image.size) < MIN_SIDE:
        raise InputError(f"That image is only {image.width}×{image.height} pixels. "
                         "Please use a photo at least 64 pixels on each side.")
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image
