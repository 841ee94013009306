"""Run Python's cyclic garbage collector only in the GUI thread while the studio has worker threads.

CPython collects cycles in whichever thread happens to allocate when a threshold is crossed. If
that is the training worker (it allocates a lot: model copies, records, numpy arrays) and the
garbage holds Qt wrappers (closed dialogs, finished jobs' signal objects, lambdas connected to
widgets), their C++ destructors run in the worker thread, against Qt's threading rules: the GUI
thread may hold a Qt lock while it waits for the GIL the worker holds, and both threads stop.
A full test run once hung exactly so, with the worker idle inside a model copy and the GUI thread
idle in its event loop. The usual remedy for PyQt/PySide applications: switch automatic
collection off and let a timer in the GUI thread collect when the same thresholds are crossed.

:class:`GuiThreadCollector` does that for as long as at least one is started (the main window
starts one when it opens and stops it when it closes, restoring automatic collection).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    _active = 0
    _was_enabled = True

    def __init__(self, parent=None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        cls = type(self)
        if cls._active == 0:
            cls._was_enabled = gc.isenabled()
            gc.disable()
        cls._active += 1
        self._started = True
        self._timer.start()

    def stop(self) -> None:
        if not self._started:
            return
        self._timer.stop()
        self._started = False
        cls = type(self)
        cls._active -= 1
        if cls._active == 0 and cls._was_enabled:
            gc.enable()

    @property
    def running(self) -> bool:
        return self._started

    def check(self) -> int:
        """Collect the generations whose thresholds are crossed (as CPython would); objects found."""
        found = 0
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        if c0 > t0:
            gen = 2 if c2 > t2 else 1 if c1 > t1 else 0
            found = gc.collect(gen)
        return found
