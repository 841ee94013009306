"""Output paths checked before the work that fills them starts.

Training for an hour and then failing to save because ``--out`` is a file, a read-only folder, or
a folder named ``x.png`` loses the hour. :func:`check_output_path` makes the checks a save would
fail on (the right kind of thing or nothing at the path, a writable parent, an allowed suffix)
up front, and raises a :class:`ConfigError` naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .errors import ConfigError


def _writable_dir(folder: Path, path: Path) -> None:
    probe = folder
    while not probe.exists():  # the nearest existing ancestor must let us create the rest
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{path}: cannot be created, {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: cannot write there ({probe} is not writable)")


def check_output_path(path: str | os.PathLike, kind: str = "file", suffixes: Iterable[str] | None = None) -> Path:
    """Check that ``path`` can be written as a ``kind`` ("file" or "dir") before work begins.

    A "file" must not be an existing folder (or special file) and must end in one of ``suffixes``
    (if given); a "dir" must not be an existing file. The nearest existing folder must be writable.
    """
    path = Path(path)
    if str(path).strip() == "":
        raise ConfigError("output path is empty")
    if kind == "dir":
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{path}: is a file; the output must be a run directory (a folder)")
        _writable_dir(path, path)
        return path
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if path.suffix.lower() not in allowed:
            raise ConfigError(f"{path}: output must end in {' or '.join(allowed)}")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name to write")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: is not a regular file; refusing to write over it")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{path}: exists and is not writable")
    _writable_dir(path.parent, path)
    return path
