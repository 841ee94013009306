"""One writer per run directory.

Two ``train --out R`` (or two ``--resume``) on one run would interleave their saves and the last
writer would win silently, leaving a config of one run beside the weights of the other. A run
that is being written holds an OS file lock (``filelock``: ``flock`` on POSIX, so a killed
process releases it at once and no stale lock is left) on ``R/.run.lock``; a second writer gets
:class:`RunLockedError` naming the run and the holder's process id, which the holder writes
beside the lock (``R/.run.lock.owner``) once it has it. Within one process the lock is
re-entrant and shared by all threads (the studio builds sessions on worker threads and may
replace its session on a run it is already writing).
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from .atomic import atomic_write_text
from .errors import CheckpointError

LOCK_FILE = ".run.lock"
OWNER_FILE = ".run.lock.owner"


class RunLockedError(CheckpointError):
    """Another process (or another session in this one) is writing the run."""

    def __init__(self, run_dir: Path, holder_pid: int | None):
        self.run_dir, self.holder_pid = Path(run_dir), holder_pid
        who = f"process {holder_pid}" if holder_pid is not None else "another process"
        super().__init__(f"{run_dir}: the run is being written by {who}; wait for it to finish or stop it first")


def _holder(run_dir: Path) -> int | None:
    try:
        with open(run_dir / OWNER_FILE, "rb") as fh:
            text = fh.read(32).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


class RunLock:
    """``with RunLock(run_dir): ...`` or ``lock.acquire()`` / ``lock.release()``; never blocks."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self._lock: FileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self) -> "RunLock":
        if self.held:
            return self
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise CheckpointError(f"{self.run_dir}: is a file, not a run directory")
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"{self.run_dir}: cannot create the run directory ({exc.strerror or exc})") from None
        lock = FileLock(str(self.run_dir / LOCK_FILE), timeout=0, is_singleton=True, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise RunLockedError(self.run_dir, _holder(self.run_dir)) from None
        except OSError as exc:
            raise CheckpointError(f"{self.run_dir}: cannot lock the run ({exc.strerror or exc})") from None
        self._lock = lock
        try:
            atomic_write_text(self.run_dir / OWNER_FILE, f"{os.getpid()}\n")
        except OSError:
            pass  # the lock holds without the note; a contender just cannot name us
        return self

    def release(self) -> None:
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        lock.release()
        if not lock.is_locked:
            try:
                (self.run_dir / OWNER_FILE).unlink(missing_ok=True)
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass
