"""The status bar as a view of the controller: run state, step, speed, device and the job bar.

Every label is rewritten from the controller's state on each of its events, so nothing in the
status bar can outlive the run or model it describes (a step count after opening another model,
a speed after Stop).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from ..controller import StudioController
from .job_bar import JobBar

STATE_COLORS = {"running": "#2e7d32", "starting": "#2e7d32", "paused": "#b26a00", "pausing": "#b26a00",
                "stopping": "#b26a00", "error": "#c62828"}


class StatusView:
    def __init__(self, bar: QStatusBar, controller: StudioController):
        self.bar, self.controller = bar, controller
        self.job_bar = JobBar(controller.jobs)
        self.job_bar.setFixedWidth(380)
        bar.addPermanentWidget(self.job_bar)  # permanent: a status message must not hide a job's Cancel
        self.state_label = QLabel("idle")
        self.step_label = QLabel("step –")
        self.rate_label = QLabel("")
        self.device_label = QLabel("")
        for w, width in ((self.state_label, 64), (self.step_label, 150), (self.rate_label, 90),
                         (self.device_label, 120)):
            w.setMinimumWidth(width)
            bar.addPermanentWidget(w)
        self.state_label.setToolTip("Training state")
        self.step_label.setToolTip("Optimisation steps of the model shown (or of the run) and passes over the data")
        self.rate_label.setToolTip("Training speed over the last three seconds (only while running)")
        self.device_label.setToolTip("Where the model trains")
        controller.run_changed.connect(self.render_state)
        controller.progress_changed.connect(self.render_progress)
        self.render_state()
        self.render_progress()

    def render_state(self, *_) -> None:
        state = self.controller.run_state
        self.state_label.setText(state)
        color = STATE_COLORS.get(state)
        self.state_label.setStyleSheet(f"color: {color}; font-weight: bold;" if color else "")

    def render_progress(self, *_) -> None:
        c = self.controller
        if c.step is None:
            self.step_label.setText("step –")
        elif c.epoch is None:
            self.step_label.setText(f"step {c.step}")
        else:
            self.step_label.setText(f"step {c.step}   epoch {c.epoch:.2f}")
        self.rate_label.setText("" if c.steps_per_s is None else f"{c.steps_per_s:.1f} steps/s")
