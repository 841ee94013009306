"""Run one-off jobs (generate samples, evaluate, load files) off the GUI thread.

A job is a plain callable; its result or its user-facing error comes back as a Qt signal on the
GUI thread. Jobs work on snapshots (model copies, numpy arrays), never on live training state.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..core.errors import EbmStudioError


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class Job(QRunnable):
    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        from ..core.device import configure_threads

        configure_threads(for_gui_worker=True)
        try:
            result = self.fn(*self.args, **self.kwargs)
        except EbmStudioError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # never let a job take the app down
            traceback.print_exc()
            self.signals.failed.emit(f"{exc.__class__.__name__}: {exc}")
        else:
            self.signals.done.emit(result)


_jobs: set[Job] = set()


def run_job(fn, on_done, on_failed, *args, **kwargs) -> Job:
    job = Job(fn, *args, **kwargs)
    job.signals.done.connect(on_done)
    job.signals.failed.connect(on_failed)
    _jobs.add(job)
    job.signals.done.connect(lambda *_: _jobs.discard(job))
    job.signals.failed.connect(lambda *_: _jobs.discard(job))
    QThreadPool.globalInstance().start(job)
    return job


def wait_for_jobs(msecs: int = 5000) -> bool:
    return QThreadPool.globalInstance().waitForDone(msecs)
