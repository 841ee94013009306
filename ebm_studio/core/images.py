"""Turn any picture into an MNIST-style 28x28 digit, the way MNIST itself was prepared.

MNIST digits are white ink on black, size-normalised to fit a 20x20 box (aspect kept) and centred
by centre of mass in a 28x28 field. A user's photo or drawing is usually black on white and of any
size, so we detect the polarity, crop to the ink, rescale and re-centre. Files are untrusted: we
cap the pixel count (decompression bombs) and turn every decoding failure into :class:`DataError`.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .errors import DataError
from .files import checked_size

MAX_IMAGE_PIXELS = 40_000_000  # ~ a 6300x6300 image; anything bigger is refused before decoding
MAX_IMAGE_BYTES = 200 * 1024 * 1024


def load_image_file(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file into a float32 grayscale array in [0, 1] (any size), or raise DataError."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    size = checked_size(path, DataError, "an image")
    if size > MAX_IMAGE_BYTES:
        raise DataError(f"{path}: file is {size} bytes; images over {MAX_IMAGE_BYTES} bytes are refused")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w <= 0 or h <= 0:
                    raise DataError(f"{path}: image has no pixels")
                if w * h > MAX_IMAGE_PIXELS:
                    raise DataError(f"{path}: image is {w}x{h} pixels; more than {MAX_IMAGE_PIXELS} are refused")
                img.seek(0)  # first frame of an animation
                img = ImageOps.exif_transpose(img)
                gray = _to_gray(img, path)
    except DataError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{path}: not a readable image (or a decompression bomb)") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError, KeyError, IndexError,
            ZeroDivisionError, AttributeError, RuntimeError, struct.error) as exc:
        raise DataError(f"{path}: cannot decode image ({exc.__class__.__name__}: {exc})") from None
    return gray


def _to_gray(img, name: object = "image") -> np.ndarray:
    """Grayscale in [0, 1], whatever the mode: alpha is composited on white, 16-bit scaled, CMYK converted."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise DataError(f"{name}: pixels contain NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return arr.astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    arr = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return arr


def to_mnist_style(gray: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """Centre a grayscale picture (any size, [0, 1]) as white-on-black ink in a ``size``x``size`` field."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise DataError("image must be a non-empty 2-D grayscale array")
    if not np.all(np.isfinite(gray)):
        raise DataError("image contains NaN or infinite values")
    gray = np.clip(gray, 0.0, 1.0)
    ink = white_on_black(gray)
    if ink.max() <= 1e-6:
        return np.zeros((size, size), np.float32)
    ink = ink / ink.max()
    rows = np.where(ink.max(axis=1) > 0.05)[0]
    cols = np.where(ink.max(axis=0) > 0.05)[0]
    if len(rows) == 0 or len(cols) == 0:
        return np.zeros((size, size), np.float32)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    small = _resize(crop, nh, nw)
    field = np.zeros((size, size), np.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    field[top : top + nh, left : left + nw] = small
    return _centre_of_mass_shift(field)


def white_on_black(gray: np.ndarray) -> np.ndarray:
    """Invert if the picture is dark ink on a light background (judged by the border pixels)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return 1.0 - gray if np.median(border) > 0.5 else gray


def _resize(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(np.clip(arr * 255.0, 0, 255).astype(np.uint8), mode="L")
    img = img.resize((w, h), Image.Resampling.LANCZOS if max(arr.shape) > max(h, w) else Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def _centre_of_mass_shift(field: np.ndarray) -> np.ndarray:
    total = field.sum()
    if total <= 0:
        return field
    size = field.shape[0]
    ys, xs = np.indices(field.shape)
    cy, cx = (ys * field).sum() / total, (xs * field).sum() / total
    dy, dx = int(round((size - 1) / 2 - cy)), int(round((size - 1) / 2 - cx))
    out = np.zeros_like(field)
    src_y = slice(max(0, -dy), min(size, size - dy))
    dst_y = slice(max(0, dy), min(size, size + dy))
    src_x = slice(max(0, -dx), min(size, size - dx))
    dst_x = slice(max(0, dx), min(size, size + dx))
    out[dst_y, dst_x] = field[src_y, src_x]
    return out


def load_digit_image(path: str | os.PathLike) -> np.ndarray:
    """Load any image file as an MNIST-style 28x28 float32 digit in [0, 1]."""
    return to_mnist_style(load_image_file(path))


def save_gray_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a [0, 1] grayscale array as an 8-bit PNG, atomically."""
    from PIL import Image

    from .atomic import atomic_write_with

    arr = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32)), 0.0, 1.0)
    img = Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), mode="L")
    atomic_write_with(path, lambda tmp: img.save(tmp, format="PNG"))
