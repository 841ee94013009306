"""Checks every loader of untrusted files makes before opening one.

``open()`` on a FIFO blocks until a writer appears and reading a device never ends, so a path
where a file is expected is ``os.stat``-ed first: only a regular file of a bounded size is read.
Every refusal is the caller's :class:`EbmStudioError` subclass, naming the file and the reason.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import EbmStudioError


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def regular_file(path: str | os.PathLike, error: type[EbmStudioError], kind: str,
                 max_bytes: int | None = None) -> int:
    """The size of ``path`` if it is a regular file of at most ``max_bytes``; else ``error``."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise error(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: is {_what(st.st_mode)}, not {kind}")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: no permission to read it")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{path}: {st.st_size} bytes is larger than any {kind} EBM Studio reads ({max_bytes} bytes)")
    return st.st_size


def read_bytes_checked(path: str | os.PathLike, error: type[EbmStudioError], kind: str, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes``, or ``error``."""
    path = Path(path)
    regular_file(path, error, kind, max_bytes)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    if len(data) > max_bytes:
        raise error(f"{path}: larger than any {kind} EBM Studio reads ({max_bytes} bytes)")
    return data


def checked_size(path: Path, error: type[EbmStudioError], kind: str) -> int:
    """The size of a regular file, or ``error`` naming the file and why it cannot be read."""
    return regular_file(path, error, kind)
