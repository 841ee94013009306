"""Ctrl-C and SIGTERM during training: stop after the step, and never in the middle of a save.

A person presses Ctrl-C once to stop and, when the save takes a moment, often a second time. The
first signal asks the loop to stop after the current step; a second one while the loop runs
(inside :meth:`StopSignals.interruptible`, outside a save) interrupts the step
(``KeyboardInterrupt``: the weights only change at the very end of a step, so the state saved
afterwards is the last completed one). After the loop, and inside :func:`critical_section` (the session wraps
each save in one) every signal is only counted: the save always finishes, so a run is never left
half written by an impatient second press. Signals reach the main thread only; elsewhere (the
studio's worker thread) the section is a no-op.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_guard: "StopSignals | None" = None
_critical_depth = 0


class StopSignals:
    """Context manager that installs the handlers and restores the previous ones on exit (after
    the final save, which the caller makes inside the ``with``)."""

    def __init__(self, announce=lambda text: print(text, file=sys.stderr, flush=True)):
        self.count = 0  # signals received
        self.deferred = 0  # of which arrived during a save
        self._announce = announce
        self._old: dict[int, object] = {}
        self._interruptible = False

    @property
    def requested(self) -> bool:
        """A stop was asked for: pass ``lambda: stop.requested`` as the loop's ``should_stop``."""
        return self.count > 0

    def __enter__(self) -> "StopSignals":
        global _guard
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
            _guard = self
        return self

    def __exit__(self, *exc) -> None:
        global _guard
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        if _guard is self:
            _guard = None

    def _handle(self, signum, frame) -> None:
        self.count += 1
        if _critical_depth > 0:
            self.deferred += 1
            self._announce("saving the run; it stops as soon as the save is complete")
            return
        if self.count > 1 and self._interruptible:
            raise KeyboardInterrupt

    @contextmanager
    def interruptible(self) -> Iterator["StopSignals"]:
        """Around the training loop: a second signal here interrupts the step in progress."""
        self._interruptible = True
        try:
            yield self
        finally:
            self._interruptible = False


@contextmanager
def critical_section() -> Iterator[None]:
    """Code that must not be interrupted by a stop signal (a save): signals are counted, not raised."""
    global _critical_depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _critical_depth += 1
    try:
        yield
    finally:
        _critical_depth -= 1
