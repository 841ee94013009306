"""Reading and writing safetensors files: the one guarded entry for every tensor file.

Weights, trainer state, the class guide and the meter's statistics all go through here, so each
gets the same checks: a regular file of bounded size, a bounded header, bounded metadata strings,
and a checksum of the tensor data (stored in the metadata on save, verified on load; a file
written before checksums existed has none and still loads). Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .atomic import atomic_write_bytes
from .errors import CheckpointError
from .files import read_bytes_checked

MAX_TENSOR_FILE_BYTES = 2 << 30  # 2 GiB: our models are a few MB
MAX_HEADER_BYTES = 4 << 20  # JSON header: a few KB for our models; an 8 MB metadata string is refused
MAX_META_VALUE_CHARS = 256 << 10
CHECKSUM_KEY = "ebm-studio.checksum"
_ALGO = "blake2b-128"


def _digest(data: bytes | memoryview) -> str:
    return f"{_ALGO}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"


def _data_section(raw: bytes) -> memoryview:
    header_len = int.from_bytes(raw[:8], "little")
    return memoryview(raw)[8 + header_len:]


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> None:
    """Write ``tensors`` (+ string ``metadata``) atomically, with a checksum of the tensor data."""
    from safetensors.torch import save

    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {k: v for k, v in (metadata or {}).items() if k != CHECKSUM_KEY}
    first = save(clean, metadata=meta or None)
    meta[CHECKSUM_KEY] = _digest(_data_section(first))  # the data section does not depend on the header
    atomic_write_bytes(path, save(clean, metadata=meta))


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file fully into memory with validation; never unpickles.

    Returns the tensors and the metadata (without the checksum). Raises :class:`CheckpointError`.
    """
    from safetensors.torch import load

    path = Path(path)
    raw = read_bytes_checked(path, CheckpointError, "safetensors file", MAX_TENSOR_FILE_BYTES)
    size = len(raw)
    if size < 8:
        raise CheckpointError(f"{path}: truncated (only {size} bytes)")
    header_len = int.from_bytes(raw[:8], "little")
    if header_len <= 1 or header_len > size - 8:
        raise CheckpointError(f"{path}: not a safetensors file (bad header length)")
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{path}: header of {header_len} bytes is larger than any EBM Studio file "
                              f"({MAX_HEADER_BYTES})")
    try:
        header = json.loads(raw[8:8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
            raise ValueError("metadata must map strings to strings")
        tensors = load(raw)
    except Exception as exc:  # safetensors raises its own error types, ValueError, UnicodeDecodeError...
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: corrupt or not a safetensors file ({msg[:160]})") from None
    long = [k for k, v in meta.items() if len(v) > MAX_META_VALUE_CHARS]
    if long:
        raise CheckpointError(f"{path}: metadata {long[0][:40]!r} is a {len(meta[long[0]])}-character string; "
                              f"more than {MAX_META_VALUE_CHARS} are refused")
    meta = dict(meta)
    stored = meta.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != _digest(_data_section(raw)):
        raise CheckpointError(f"{path}: tensor data does not match its checksum (the file is corrupt)")
    return tensors, meta
