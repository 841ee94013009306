"""Pictures out of the engine: sample grids (PNG), chain film strips (PNG) and animations (GIF).

Arrays are (N, 28, 28) or (N, 1, 28, 28) in [0, 1]; everything is written atomically so an
interrupted export never leaves a broken file behind.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import torch

from .atomic import atomic_write_with
from .errors import DataError


def as_numpy_images(images) -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1] from a tensor or array of shape (N, [1,] H, W)."""
    if torch.is_tensor(images):
        images = images.detach().float().cpu().numpy()
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DataError(f"expected images of shape (N, H, W), got {arr.shape}")
    return np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0)


def parse_grid(spec: str) -> tuple[int, int]:
    """``"8x10"`` -> (8, 10) rows x cols."""
    try:
        r, c = spec.lower().split("x")
        rows, cols = int(r), int(c)
    except (ValueError, AttributeError):
        raise DataError(f"grid must look like ROWSxCOLS (e.g. 8x8), got {spec!r}") from None
    if not (1 <= rows <= 1000 and 1 <= cols <= 1000):
        raise DataError(f"grid {spec!r}: rows and cols must be between 1 and 1000")
    return rows, cols


def grid_shape(n: int, rows: int | None = None, cols: int | None = None) -> tuple[int, int]:
    if rows and cols:
        return rows, cols
    if cols:
        return max(1, math.ceil(n / cols)), cols
    if rows:
        return rows, max(1, math.ceil(n / rows))
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def tile_grid(images, rows: int | None = None, cols: int | None = None, pad: int = 2, scale: int = 1,
              pad_value: float = 0.25) -> np.ndarray:
    """Tile images row-major into one float array; empty cells stay at ``pad_value``."""
    arr = as_numpy_images(images)
    n, h, w = arr.shape
    rows, cols = grid_shape(n, rows, cols)
    H, W = rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad
    out = np.full((H, W), pad_value, np.float32)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = arr[i]
    if scale > 1:
        out = np.kron(out, np.ones((scale, scale), np.float32))
    return out


def _to_pil(arr: np.ndarray):
    from PIL import Image

    return Image.fromarray((np.clip(arr, 0, 1) * 255.0 + 0.5).astype(np.uint8), mode="L")


def save_grid_png(path: str | os.PathLike, images, rows: int | None = None, cols: int | None = None,
                  pad: int = 2, scale: int = 1, labels: Sequence[str] | None = None,
                  title: str | None = None) -> tuple[int, int]:
    """Save a grid of samples as PNG; returns its (width, height) in pixels.

    ``labels`` (one per image) are drawn under each cell and ``title`` above the grid, e.g. the
    model and sampler settings, so an exported figure documents itself.
    """
    from PIL import Image, ImageDraw, ImageFont

    grid = tile_grid(images, rows, cols, pad=pad, scale=scale)
    img = _to_pil(grid).convert("RGB")
    if labels is not None or title:
        arr = as_numpy_images(images)
        n, h, w = arr.shape
        r, c = grid_shape(n, rows, cols)
        p = pad * scale
        label_h = 13 if labels is not None else 0
        font = ImageFont.load_default(size=11)  # a TrueType font with Pillow >= 10.1 (not the 6 px bitmap)
        lines = _wrap(title, font, img.width - 8) if title else []
        title_h = 14 * len(lines) + 4 if lines else 0
        canvas = Image.new("RGB", (img.width, title_h + p + r * (h * scale + p + label_h)), (64, 64, 64))
        draw = ImageDraw.Draw(canvas)
        if title:
            draw.rectangle((0, 0, canvas.width, title_h - 1), fill=(20, 20, 20))
            for k, line in enumerate(lines):
                draw.text((4, 2 + 14 * k), line, fill=(230, 230, 230), font=font)
        for i in range(min(n, r * c)):  # each row: the images, then a strip of their labels below them
            row, col = divmod(i, c)
            x, y = p + col * (w * scale + p), title_h + p + row * (h * scale + p + label_h)
            canvas.paste(_to_pil(np.kron(arr[i], np.ones((scale, scale), np.float32))).convert("RGB"), (x, y))
            if labels is not None and i < len(labels):
                draw.text((x + 1, y + h * scale), str(labels[i])[:8], fill=(255, 210, 80), font=font)
        img = canvas
    atomic_write_with(path, lambda tmp: img.save(tmp, format="PNG"))
    return img.size


def _wrap(text: str, font, width: int) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels in ``font``."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and font.getlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def save_strip_png(path: str | os.PathLike, frames, scale: int = 2) -> tuple[int, int]:
    """A film strip of chain states: ``frames`` (T, N, [1,] 28, 28) -> N rows of T frames."""
    frames = _as_frames(frames)
    T, N = frames.shape[:2]
    ordered = frames.transpose(1, 0, 2, 3).reshape(T * N, 28, 28)
    return save_grid_png(path, ordered, rows=N, cols=T, scale=scale)


def save_gif(path: str | os.PathLike, frames, scale: int = 4, fps: float = 12.0, loop: int = 0,
             progress=None) -> int:
    """Animated GIF of a chain; ``frames`` (T, N, [1,] 28, 28) shows the N chains side by side.

    ``progress(done, total)`` is called after each frame is rendered (rendering is most of the
    cost); an exception it raises (e.g. a cancel) stops the export before anything is written.
    Returns the number of frames written.
    """
    frames = _as_frames(frames)
    T = frames.shape[0]
    if T == 0:
        raise DataError("no frames to export")
    pics = []
    for t in range(T):
        pics.append(_to_pil(tile_grid(frames[t], rows=1, scale=scale)).convert("P"))
        if progress is not None:
            progress(t + 1, T)
    duration = max(20, int(round(1000.0 / max(fps, 0.1))))

    def write(tmp):
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=duration, loop=loop,
                     optimize=False, disposal=1)

    atomic_write_with(path, write)
    return T


def _as_frames(frames) -> np.ndarray:
    if torch.is_tensor(frames):
        frames = frames.detach().float().cpu().numpy()
    if isinstance(frames, (list, tuple)):
        frames = np.stack([as_numpy_images(f) for f in frames])
    arr = np.asarray(frames, dtype=np.float32)
    if arr.ndim == 5 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise DataError(f"expected chain frames of shape (T, N, 28, 28), got {arr.shape}")
    return np.clip(np.nan_to_num(arr), 0.0, 1.0)
