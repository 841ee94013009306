"""Checks every loader of untrusted files makes before opening one."""

from __future__ import annotations

from pathlib import Path

from .errors import EbmStudioError


def checked_size(path: Path, error: type[EbmStudioError], kind: str) -> int:
    """The size of a regular file, or ``error`` naming the file and why it cannot be read."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc})") from None
    if path.is_dir():
        raise error(f"{path}: is a folder, not {kind}")
    return size
