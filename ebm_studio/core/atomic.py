"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A process killed at any moment leaves either the old file or the new one, never a torn one,
because ``os.replace`` is atomic on POSIX and Windows within a filesystem. A process killed
between the write and the rename leaves its temporary file (``.NAME.PID.XXXX.tmp``);
:func:`clean_stale_temps` removes those whose writer is gone, on the next open or save.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

TEMP_SUFFIX = ".tmp"
LEGACY_TEMP_AGE_S = 600.0  # temp files named before they carried the writer's pid: removed once this old


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is renamed over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_with(target: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Let ``writer(tmp_path)`` produce the file (e.g. PIL's ``save``), then rename it into place."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike, names: Iterable[str]) -> list[Path]:
    """Remove the temporary files that killed atomic writes of ``names`` left in ``folder``.

    A temp file whose writer (the pid in its name) is still alive is kept: it may be mid-write.
    Returns the files removed.
    """
    import time

    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for name in names:
        for tmp in folder.glob(f".{name}.*{TEMP_SUFFIX}"):
            middle = tmp.name[len(name) + 2:-len(TEMP_SUFFIX)]
            pid_text = middle.split(".", 1)[0]
            try:
                if pid_text.isdigit() and "." in middle:
                    stale = not _writer_alive(int(pid_text))
                else:
                    stale = time.time() - tmp.lstat().st_mtime > LEGACY_TEMP_AGE_S
                if stale and tmp.is_file():
                    tmp.unlink()
                    removed.append(tmp)
            except OSError:
                continue
    return removed
