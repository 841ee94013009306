"""Start, pause, step, stop and reset of the window's one training run, and the worker's signals.

The worker (``worker.py``) drives the core's training loop in a QThread; this mixin of the main
window starts it with what the controller's :class:`~ebm_studio.controller.StartPlan` says
(a new run of the panel's recipe, the run to continue, or a fine-tune of the model shown),
and turns the worker's signals into controller updates, which every view renders.
"""

from __future__ import annotations

import datetime

from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QApplication, QMessageBox

from ..core.config import RunConfig
from ..core.device import describe_device, resolve_device
from ..core.errors import EbmStudioError
from .paths import default_runs_dir
from .worker import TrainingWorker


class RunControl:
    """Mixin of :class:`MainWindow`: needs ``controller``, ``training``, ``charts``, ``samples``, ``canvas``."""

    def start(self) -> None:
        if self.worker is not None:
            if self.worker.is_paused and not self.worker.is_stopping:
                self.worker.resume()
                self.controller.set_run_state("running")
            return
        self._launch_worker(paused=False)

    def toggle_pause(self) -> None:
        if self.worker is None or self.worker.is_stopping:
            return
        if self.worker.is_paused:
            self.worker.resume()
            self.controller.set_run_state("running")
        else:
            self.worker.pause()
            self.controller.set_run_state("pausing")

    def step(self) -> None:
        if self.worker is None and not self._launch_worker(paused=True):
            return
        if self.worker.is_paused and not self.worker.is_stopping:
            self.worker.step_once()

    def stop(self, wait: bool = True) -> None:
        """Stop between two steps; with ``wait`` block (keeping the UI painted) until the thread ends."""
        if self.worker is None:
            return
        self.worker.stop()
        self.controller.set_run_state("stopping")
        if wait:
            self._join_worker()

    def _join_worker(self) -> None:
        thread = self.thread
        if thread is None:
            return
        import shiboken6

        # processEvents may deliver finished() -> deleteLater(): the C++ thread can vanish under us
        # the current step finishes, then the loop sees the flag
        while shiboken6.isValid(thread) and thread.isRunning():
            thread.wait(50)
            QApplication.processEvents()
        QApplication.processEvents()  # deliver the last records and thread.finished -> _worker_finished
        if self.thread is thread:  # finished() not delivered yet (no event loop running)
            self._worker_finished(thread)

    def reset(self) -> None:
        self.stop()
        self.controller.forget_run()
        self.charts.clear()
        self._idle_device_label()
        self.log_line("reset: the next Start begins a new run")

    def _session_source(self):
        """The session to continue, or a factory the worker calls to build a new one; None on bad input."""
        from ..core.session import TrainingSession

        if self.session is not None and self.controller.start_mode == "continue":
            return self.session
        try:
            plan = self.controller.start_plan(self.training.config())
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return None
        if plan.mode == "continue":
            run_dir = plan.run_dir
            self.log_line(f"continuing run {run_dir}")
            self.controller.begin_run(run_dir, continuing=True)
            return lambda: TrainingSession(RunConfig(), run_dir=run_dir, resume=True)
        cfg = plan.cfg
        kind = "-finetune" if plan.mode == "fine-tune" else ""
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = default_runs_dir() / f"{cfg.model.family}{kind}-{stamp}"
        self.controller.session = None
        self.controller.begin_run(run_dir, continuing=False)
        self.charts.clear()
        self.charts.set_config(cfg)
        self.log_line(f"new run in {run_dir}: {plan.note}")
        return lambda: TrainingSession(cfg, run_dir=run_dir, init_model=plan.source_model)

    def _launch_worker(self, paused: bool) -> bool:
        continuing = self.session is not None and self.controller.start_mode == "continue"
        source = self._session_source()
        if source is None:
            return False
        self.thread = QThread(self)
        self.worker = TrainingWorker(source, self.training.budget(), self.training.live_overrides())
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # quit() is thread-safe: called directly from the worker's thread it ends the thread even while
        # this one is blocked, instead of waiting in this thread's event queue
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(lambda t=self.thread: self._worker_finished(t))
        self.worker.session_ready.connect(self._on_session_ready)
        self.worker.records.connect(self._on_records)
        self.worker.negatives.connect(self._on_negatives)
        self.worker.weights.connect(self._on_weights)
        self.worker.state_changed.connect(self._on_worker_state)
        self.worker.error.connect(self._on_worker_error)
        self.worker.event.connect(self.log_line)
        self.worker.diverged.connect(self._on_diverged)
        self.worker.saved.connect(self.show_message)
        self.worker.snapshot_ready.connect(self._on_snapshot)
        self.worker.model_copy.connect(self._on_model_copy)
        if not paused:
            self.worker.start_running()
        self._set_training_active(True)
        if not continuing:  # loading the data and fitting the base energy take seconds: say so, allow Cancel
            self._preparing = self.controller.jobs.begin("preparing the run (data, base fit)",
                                                         on_cancel=lambda: self.stop(wait=False))
        self.thread.start()
        if continuing:
            self.controller.set_run_state("paused" if paused else "running")
        return True

    def _set_training_active(self, active: bool) -> None:
        self.training.set_running(active)
        self.samples.set_training_active(active)
        self.canvas.set_training_active(active)

    def _end_preparing(self) -> None:
        job = getattr(self, "_preparing", None)
        if job is not None:
            self.controller.jobs.end(job)
            self._preparing = None

    def _on_session_ready(self, session, cfg) -> None:
        self._end_preparing()
        first = self.session is None
        self.controller.attach_session(session, cfg)
        self.charts.set_config(cfg)
        self.device_label.setText(describe_device(session.trainer.device))
        if first and self.controller.start_mode == "continue":
            self.log_line(f"resumed at step {session.trainer.step}")
        if first and getattr(session, "notice", None):  # a fresh optimiser, a log set aside, a restart
            self.statusBar().showMessage(f"note: {session.notice}", 15000)
            self.log_line(f"note: {session.notice}")
        self.controller.set_start_mode("continue")  # the run in this window: Start goes on with it
        if self.state == "starting" and self.worker is not None:
            self.controller.set_run_state("paused" if self.worker.is_paused else "running")

    def _on_snapshot(self, model, cfg) -> None:
        self.controller.update_snapshot(model, cfg)

    def _worker_finished(self, thread: QThread | None = None) -> None:
        if thread is not None and thread is not self.thread:
            return  # already cleaned up (joined by stop(wait=True))
        self._end_preparing()
        failed = self.worker is not None and self.worker.failed
        if self.worker is not None:
            self.worker.deleteLater()
        if self.thread is not None:
            self.thread.deleteLater()
        self.worker, self.thread = None, None
        self._set_training_active(False)
        if self.session is not None and not self._closing:
            try:
                self.session.save()
                self.log_line(f"run saved to {self.session.run_dir}")
                self._add_recent(str(self.session.run_dir))
            except (EbmStudioError, OSError) as exc:
                self.show_error(f"could not save the run: {exc}")
        self.controller.set_run_state("error" if failed else "stopped")

    def _on_worker_state(self, state: str) -> None:
        if self.worker is not None and self.worker.is_stopping and state != "stopped":
            return  # a late "paused"/"running" must not hide that we are stopping
        self.controller.set_run_state(state)

    def _on_records(self, records: list[dict]) -> None:
        self.charts.add_records(records)
        self.controller.add_records(records)

    def _on_negatives(self, images) -> None:
        self.samples.show_negatives(images, self.controller.run_cfg)

    def _on_diverged(self, text: str) -> None:
        self.statusBar().showMessage(f"⚠ {text}", 12000)

    def _on_worker_error(self, text: str) -> None:
        self.show_error(text)
        if not self._closing and self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, "Training stopped", text, QMessageBox.StandardButton.Ok, self)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.show()  # non-modal: the app keeps running and the run is kept
            self.error_box = box

    def _request_model_copy(self) -> bool:
        """For Generate during training: a copy of the weights arrives between two steps."""
        if self.worker is None or self.worker.is_stopping:
            return False
        self.worker.request_model_copy()
        return True

    def _on_model_copy(self, model, cfg, step: int) -> None:
        self.samples.generate_with(model, cfg, f" (model at step {step})")

    def _push_live_settings(self) -> None:
        if self.worker is None or self.run_cfg is None:
            return
        live = self.training.live_overrides()
        if not live:
            return
        try:
            cfg = self.run_cfg.with_overrides(**live)
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return
        if cfg != self.run_cfg:
            self.controller.run_cfg = cfg
            self.worker.update_settings(cfg)

    def _update_actions(self, *_) -> None:
        running = self.worker is not None
        stopping = running and self.worker.is_stopping
        paused = running and self.worker.is_paused and not stopping
        valid = self.training.is_valid()
        can_start = valid or self.controller.start_mode == "continue"
        self.start_action.setEnabled(not running and can_start)
        self.start_action.setText("Start")
        self.pause_action.setText("Resume" if paused or self.state in ("paused", "pausing") else "Pause")
        self.pause_action.setEnabled(running and not stopping)
        self.step_action.setEnabled(paused or (not running and can_start))
        self.stop_action.setEnabled(running and not stopping)
        self.reset_action.setEnabled((not running or paused) and (self.session is not None
                                                                   or self.controller.start_mode == "continue"))
        for a in (self.open_action, self.open_file_action):
            a.setEnabled(not running)
        self.recent_menu.setEnabled(not running and bool(self._recent()))
        self.pretrained_menu.setEnabled(not running and bool(self._pretrained_names()))
        self.start_action.setToolTip("Start training (Ctrl+R): " + self.training.start_summary() if can_start else
                                     f"Fix the settings first: {self.training.message.text()}")

    def _idle_device_label(self, *_) -> None:
        if self.worker is not None or self.session is not None:
            return
        try:
            self.device_label.setText(describe_device(resolve_device(self.training.device.currentData())))
        except EbmStudioError as exc:
            self.device_label.setText(str(exc))
