"""The guarded entry for ``.npy`` sample files (``evaluate SAMPLES.npy``).

``np.load`` allocates whatever the header claims (an 80-byte file can claim 2.79 PiB). Opening
with ``mmap_mode="r"`` parses the header and maps the file without allocating, and refuses a
file shorter than its header promises; only then, with the shape and dtype checked, is it read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataError
from .files import regular_file
from .limits import MAX_SAMPLES

MAX_NPY_BYTES = MAX_SAMPLES * 784 * 8 + 4096  # float64 digits; the header is ~128 bytes
_SHAPES = ("(N, 28, 28)", "(N, 1, 28, 28)", "(N, 784)")


def load_samples_npy(path: str | os.PathLike) -> np.ndarray:
    """Samples as float32 (N, 28, 28), finite; or :class:`DataError` naming the file."""
    path = Path(path)
    regular_file(path, DataError, "a .npy file", MAX_NPY_BYTES)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError, SyntaxError, TypeError, OverflowError, MemoryError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path}: holds several arrays (an .npz?); one array of samples is expected")
    if arr.dtype.kind not in "fiub" or arr.dtype.hasobject:
        raise DataError(f"{path}: dtype {arr.dtype} is not numeric")
    shape = arr.shape
    if not (len(shape) == 3 and shape[1:] == (28, 28) or len(shape) == 4 and shape[1:] == (1, 28, 28)
            or len(shape) == 2 and shape[1] == 784):
        raise DataError(f"{path}: shape {shape} is not one of {', '.join(_SHAPES)}")
    if not 1 <= shape[0] <= MAX_SAMPLES:
        raise DataError(f"{path}: {shape[0]} samples; between 1 and {MAX_SAMPLES} are accepted")
    out = np.array(arr, dtype=np.float32).reshape(shape[0], 28, 28)
    del arr
    if not np.isfinite(out).all():
        raise DataError(f"{path}: samples contain NaN or infinite values")
    return out
