"""Datasets of digits: the bundled MNIST, a user's own IDX files, or a folder of pictures.

In the spirit of the seed's ``create_dataset(numbers)``: pick a split and a digit subset and get a
float32 tensor of shape (N, 1, 28, 28). The studio's pixel convention is [0, 1], white ink on black
(as MNIST); :func:`to_range` converts to another convention (e.g. [-1, 1]).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .errors import DataError
from .idx import read_idx
from .images import load_digit_image
from .resources import require

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MIN_TRAINING_IMAGES = 2  # a fit of the data (mean, covariance, mixture) needs two images at least
MAX_FOLDER_IMAGES = 100_000  # a folder of pictures: more is an IDX file's job


@dataclass(frozen=True)
class DigitData:
    """Images as float32 (N, 1, 28, 28) in [0, 1] and labels as int64 (N,) (-1 where unknown)."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str

    def __len__(self) -> int:
        return self.images.shape[0]


def load_idx_pair(images_path: str | os.PathLike,
                  labels_path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an IDX image file (N, 28, 28) and optional label file (N,) with consistency checks."""
    images = read_idx(images_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{Path(images_path).name}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels_path is None:
        labels = np.full(images.shape[0], -1, np.int64)
    else:
        labels = read_idx(labels_path)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{Path(labels_path).name}: {labels.shape} labels do not match {images.shape[0]} images"
            )
        labels = labels.astype(np.int64)
    if images.dtype == np.uint8:
        pixels = images.astype(np.float32) / 255.0
    else:
        wide = images.astype(np.float64)  # float64: (hi - lo) of float32 extremes would overflow
        if not np.all(np.isfinite(wide)):
            raise DataError(f"{Path(images_path).name}: images contain NaN or infinite values")
        lo, hi = float(wide.min()), float(wide.max())
        if not math.isfinite(hi - lo):
            raise DataError(f"{Path(images_path).name}: pixel values span {lo:g} to {hi:g}, too wide to scale")
        pixels = ((wide - lo) / (hi - lo) if hi > lo else np.zeros_like(wide)).astype(np.float32)
    return pixels, labels


@lru_cache(maxsize=4)
def _mnist_split(split: str, folder: str) -> tuple[np.ndarray, np.ndarray]:
    img_name, lbl_name = SPLIT_FILES[split]
    pixels, labels = load_idx_pair(Path(folder) / img_name, Path(folder) / lbl_name)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def load_mnist(split: str = "train", digits: Iterable[int] | None = None, limit: int | None = None,
               folder: str | os.PathLike | None = None) -> DigitData:
    """The bundled MNIST (or MNIST-format files in ``folder``), optionally restricted to ``digits``."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}: choose 'train' or 'test'")
    pixels, labels = _mnist_split(split, str(folder or require("mnist", SPLIT_FILES[split][0]).parent))
    return _select(pixels, labels, digits, limit, source=f"mnist:{split}")


def load_image_folder(folder: str | os.PathLike, limit: int | None = None) -> DigitData:
    """Every picture in ``folder`` (any size), converted to MNIST-style 28x28 digits."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None:
        files = files[:limit]
    if len(files) > MAX_FOLDER_IMAGES:
        raise DataError(f"{folder}: {len(files)} pictures; at most {MAX_FOLDER_IMAGES} are read from a folder "
                        f"(use an IDX file, or data.limit)")
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    pixels = np.stack([load_digit_image(p) for p in files])
    labels = np.array([_label_from_name(p.name) for p in files], np.int64)
    return DigitData(torch.from_numpy(pixels).unsqueeze(1), torch.from_numpy(labels), f"folder:{folder}")


def _label_from_name(name: str) -> int:
    """A file named like ``7_foo.png`` or ``foo-7.png`` is labelled 7; otherwise -1."""
    stem = Path(name).stem
    for token in (stem[:1], stem[-1:]):
        if token.isdigit():
            return int(token)
    return -1


def load_dataset(source: str = "mnist", split: str = "train", digits: Iterable[int] | None = None,
                 limit: int | None = None, min_images: int = 1) -> DigitData:
    """Resolve a dataset description used by configs, the CLI and the GUI.

    ``source`` is ``"mnist"`` (bundled), a folder of MNIST IDX files, a single IDX images file,
    or a folder of pictures. Fewer than ``min_images`` (training: :data:`MIN_TRAINING_IMAGES`)
    is a :class:`DataError`.
    """
    data = _load_dataset(source, split, digits, limit)
    if len(data) < min_images:
        raise DataError(f"{data.source}: {len(data)} image(s); training needs at least {min_images}")
    return data


def _load_dataset(source, split, digits, limit) -> DigitData:
    if source in ("mnist", "", None):
        return load_mnist(split, digits, limit)
    path = Path(source)
    if path.is_dir():
        img_name, _ = SPLIT_FILES.get(split, SPLIT_FILES["train"])
        if (path / img_name).exists() or (path / img_name[:-3]).exists():
            img = path / img_name if (path / img_name).exists() else path / img_name[:-3]
            lbl_name = SPLIT_FILES[split][1]
            lbl = next((p for p in (path / lbl_name, path / lbl_name[:-3]) if p.exists()), None)
            pixels, labels = load_idx_pair(img, lbl)
            return _select(pixels, labels, digits, limit, source=f"idx:{path}")
        data = load_image_folder(path, limit=None)
        return _select(data.images.squeeze(1).numpy(), data.labels.numpy(), digits, limit, source=data.source,
                       allow_unlabelled=True)
    if path.exists() or os.path.lexists(path):
        pixels, labels = load_idx_pair(path)  # a regular IDX file, or a clear error for anything else
        return _select(pixels, labels, None, limit, source=f"idx:{path}")
    raise DataError(f"{source}: dataset not found (use 'mnist', an IDX file, or a folder)")


def _select(pixels: np.ndarray, labels: np.ndarray, digits: Iterable[int] | None, limit: int | None,
            source: str, allow_unlabelled: bool = False) -> DigitData:
    digits = normalise_digits(digits)
    if digits is not None and len(digits) < 10:
        if (labels < 0).all():
            if not allow_unlabelled:
                raise DataError(f"{source}: has no labels, so it cannot be filtered by digit")
        else:
            keep = np.isin(labels, digits)
            pixels, labels = pixels[keep], labels[keep]
    if limit is not None:
        if limit <= 0:
            raise DataError(f"limit must be positive, got {limit}")
        pixels, labels = pixels[:limit], labels[:limit]
    if len(pixels) == 0:
        raise DataError(f"{source}: no images left after choosing digits {digits}")
    images = torch.from_numpy(np.array(pixels, dtype=np.float32, copy=True)).unsqueeze(1)
    return DigitData(images, torch.from_numpy(np.array(labels, dtype=np.int64, copy=True)), source)


def normalise_digits(digits: Iterable[int] | str | None) -> list[int] | None:
    """Accept ``None``, ``[3, 5]`` or ``"3,5"``; validate each is 0..9; sort and deduplicate."""
    if digits is None:
        return None
    if isinstance(digits, str):
        parts = [p.strip() for p in digits.replace(" ", ",").split(",") if p.strip()]
        if not parts:  # '' must not quietly mean "all ten"
            raise DataError("digits is empty: give digits 0-9 separated by commas (omit it for all ten)")
        try:
            digits = [int(p) for p in parts]
        except ValueError:
            raise DataError(f"digits must be integers 0-9 separated by commas, got {digits!r}") from None
    out = sorted({int(d) for d in digits})
    if not out:
        return None
    bad = [d for d in out if not 0 <= d <= 9]
    if bad:
        raise DataError(f"digits must be between 0 and 9, got {bad}")
    return out
