"""Reader for the IDX format that MNIST ships in (gzip-compressed or plain).

IDX: two zero bytes, a dtype code, the number of dimensions, then one big-endian uint32 per
dimension, then the data. We validate every part, because a user may point us at any file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError
from .files import regular_file

_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_IDX_BYTES = 1 << 31  # 2 GiB: far above MNIST (47 MB), far below what would hurt


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (``.gz`` or plain) into a numpy array, or raise :class:`DataError`."""
    path = Path(path)
    raw = _read_bytes(path)
    return parse_idx(raw, name=path.name)


def _read_bytes(path: Path) -> bytes:
    regular_file(path, DataError, "an IDX file")  # a FIFO or device would block the read forever
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_IDX_BYTES + 1)
            else:
                data = fh.read(MAX_IDX_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an IDX file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{path}: larger than {MAX_IDX_BYTES} bytes; refusing to load")
    return data


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: bad IDX magic number (first two bytes must be zero)")
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        raise DataError(f"{name}: unknown IDX data type code 0x{code:02x}")
    if not 1 <= ndim <= 4:
        raise DataError(f"{name}: IDX with {ndim} dimensions is not supported (1 to 4)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if expected != actual:
        raise DataError(f"{name}: IDX header promises {expected} data bytes for shape {shape}, file has {actual}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))
