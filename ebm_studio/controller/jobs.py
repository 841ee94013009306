"""One-off jobs in flight (generate, evaluate, open, export): progress, time left, cancel.

A :class:`Job` is shared by the thread that does the work and the window that shows it: the
worker calls :meth:`Job.advance` after every step and checks :attr:`Job.cancelled` between two;
the window polls the numbers at a few Hz. Only plain attributes and a ``threading.Event`` cross
threads, so this needs no Qt. A step generator is cancelled by no longer iterating it
(:meth:`Job.drive`), which is why Cancel returns within one sampler step.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

from .events import Event


class JobCancelled(Exception):
    """The user cancelled the job (not an error: nothing is shown but a note)."""


class Job:
    def __init__(self, name: str, total: int = 0, on_cancel=None):
        self.name = name
        self.on_cancel = on_cancel  # for work that is not a step generator (e.g. stop the training worker)
        self.total = int(total)
        self.done = 0
        self.started = time.monotonic()
        self._cancel = threading.Event()
        self.finished = False

    def advance(self, done: int, total: int | None = None) -> None:
        """Progress from the worker thread: ``done`` of ``total`` units."""
        if total is not None:
            self.total = int(total)
        self.done = int(done)

    def cancel(self) -> None:
        first = not self._cancel.is_set()
        self._cancel.set()
        if first and self.on_cancel is not None:
            self.on_cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the user cancelled: call between two steps."""
        if self._cancel.is_set():
            raise JobCancelled(self.name)

    @property
    def fraction(self) -> float | None:
        return None if self.total <= 0 else min(1.0, self.done / self.total)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Linear estimate from the pace so far; None until there is a pace to go by."""
        frac = self.fraction
        if not frac:
            return None
        elapsed = (now if now is not None else time.monotonic()) - self.started
        return max(0.0, elapsed * (1.0 - frac) / frac)

    def describe(self, now: float | None = None) -> str:
        frac = self.fraction
        if frac is None:
            return f"{self.name}…"
        left = self.seconds_left(now)
        eta = "" if left is None else f", {format_seconds(left)} left"
        return f"{self.name}: {frac:.0%}{eta}"

    def drive(self, steps: Iterator):
        """Iterate a step generator of records with ``done``/``total``/``result`` (``DrawProgress``)
        until it ends, reporting progress; on cancel close it and raise :class:`JobCancelled`.
        Returns the last record's ``result``."""
        last = None
        try:
            for last in steps:
                self.advance(getattr(last, "done", self.done + 1), getattr(last, "total", None))
                self.check()
        finally:
            close = getattr(steps, "close", None)
            if close is not None:
                close()
        return getattr(last, "result", None)


def format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d} min" if s >= 60 else f"{s} s"


class JobList:
    """The jobs in flight; ``changed`` fires when one begins or ends (on the window's thread)."""

    def __init__(self) -> None:
        self.running: list[Job] = []
        self.changed = Event()

    def begin(self, name: str, total: int = 0, on_cancel=None) -> Job:
        job = Job(name, total, on_cancel)
        self.running.append(job)
        self.changed.emit()
        return job

    def end(self, job: Job) -> None:
        job.finished = True
        if job in self.running:
            self.running.remove(job)
            self.changed.emit()

    def cancel_all(self) -> int:
        for job in self.running:
            job.cancel()
        return len(self.running)

    def __len__(self) -> int:
        return len(self.running)
