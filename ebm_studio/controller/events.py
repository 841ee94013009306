"""A minimal observer: a list of callbacks that ``emit`` calls in order.

Plain Python on purpose: the controller must not import Qt (its tests run without widgets), and
the few events it has need no queued delivery, since the window changes state on its own thread.
"""

from __future__ import annotations

from typing import Callable


class Event:
    """``ev.connect(fn)``; ``ev.emit(*args)`` calls every connected ``fn(*args)``."""

    def __init__(self) -> None:
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        self._callbacks = [c for c in self._callbacks if c is not callback]

    def emit(self, *args) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)
