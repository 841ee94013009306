"""The job bar: a progress bar, the time left and a Cancel button for the job in flight.

It renders the controller's :class:`~ebm_studio.controller.JobList` and polls the numbers the
worker threads write (five times a second), so progress never needs a cross-thread signal and
never repaints faster than anyone can read it. Hidden while nothing runs.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from ..controller.jobs import JobList

POLL_MS = 200


class JobBar(QWidget):
    def __init__(self, jobs: JobList, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(120)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop this job at its next step (nothing else is lost)")
        self.cancel_btn.clicked.connect(self.cancel)
        row.addWidget(self.label, 1)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_btn)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        jobs.changed.connect(self._jobs_changed)
        self._jobs_changed()

    def current(self):
        return self.jobs.running[-1] if self.jobs.running else None

    def cancel(self) -> None:
        job = self.current()
        if job is not None:
            job.cancel()
            self.label.setText(f"{job.name}: cancelling…")
            self.cancel_btn.setEnabled(False)

    def _jobs_changed(self) -> None:
        busy = bool(self.jobs.running)
        self.setVisible(busy)
        self.cancel_btn.setEnabled(busy)
        if busy:
            self.timer.start()
            self.refresh()
        else:
            self.timer.stop()

    def refresh(self) -> None:
        job = self.current()
        if job is None:
            return
        frac = job.fraction
        if frac is None:
            self.bar.setRange(0, 0)  # busy indicator until the job knows its size
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(frac * 1000))
        more = len(self.jobs.running) - 1
        text = ("cancelling " + job.name + "…") if job.cancelled else job.describe()
        self.label.setText(text + (f" (+{more} more)" if more > 0 else ""))
        self.label.setToolTip(self.label.text())
