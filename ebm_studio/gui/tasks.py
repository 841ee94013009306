"""Run one-off jobs (generate samples, evaluate, open files, export) off the GUI thread.

A job is a plain callable; its result, its user-facing error or its cancellation comes back as
a Qt signal on the GUI thread. With a :class:`~ebm_studio.controller.Job` record the callable
gets it as ``job=`` to report progress and to stop between two steps when the user cancels
(the window shows the record in its job bar). Jobs work on snapshots (model copies, numpy
arrays), never on live training state.

The signal object belongs to the job, not to any widget, and an emit after the window (or the
application) is gone is dropped: closing the window while a job runs must not print
``RuntimeError: Signal source has been deleted`` from a pool thread.
"""

from __future__ import annotations

import traceback

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..controller.jobs import Job as JobRecord
from ..controller.jobs import JobCancelled
from ..core.errors import EbmStudioError


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class Job(QRunnable):
    def __init__(self, fn, record: JobRecord | None, args, kwargs):
        super().__init__()
        self.fn, self.record, self.args, self.kwargs = fn, record, args, kwargs
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        from ..core.device import configure_threads

        configure_threads(for_gui_worker=True)
        kwargs = dict(self.kwargs)
        if self.record is not None:
            kwargs["job"] = self.record
        try:
            if self.record is not None:
                self.record.check()  # cancelled before it started (the window is closing)
            result = self.fn(*self.args, **kwargs)
        except JobCancelled:
            self._emit("cancelled")
        except EbmStudioError as exc:
            self._emit("failed", str(exc))
        except Exception as exc:  # never let a job take the app down
            traceback.print_exc()
            self._emit("failed", f"{exc.__class__.__name__}: {exc}")
        else:
            self._emit("done", result)

    def _emit(self, name: str, *args) -> None:
        try:
            if shiboken6.isValid(self.signals):
                getattr(self.signals, name).emit(*args)
        except RuntimeError:  # the receiver's side is gone (window closed): nobody to tell
            pass


_jobs: set[Job] = set()


def run_job(fn, on_done, on_failed, *args, record: JobRecord | None = None, on_cancelled=None, on_end=None,
            **kwargs) -> Job:
    """Run ``fn(*args, **kwargs)`` in the pool; ``on_end`` runs after any outcome (e.g. to end the record)."""
    job = Job(fn, record, args, kwargs)
    job.signals.done.connect(on_done)
    job.signals.failed.connect(on_failed)
    if on_cancelled is not None:
        job.signals.cancelled.connect(on_cancelled)
    _jobs.add(job)

    def finish(*_):
        _jobs.discard(job)
        if on_end is not None:
            on_end()

    for sig in (job.signals.done, job.signals.failed, job.signals.cancelled):
        sig.connect(finish)
    QThreadPool.globalInstance().start(job)
    return job


def cancel_jobs() -> int:
    """Ask every job in flight that has a record to stop at its next step; how many were asked."""
    n = 0
    for job in list(_jobs):
        if job.record is not None:
            job.record.cancel()
            n += 1
    return n


def wait_for_jobs(msecs: int = 5000) -> bool:
    return QThreadPool.globalInstance().waitForDone(msecs)
