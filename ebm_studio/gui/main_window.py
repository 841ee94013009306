"""The studio's main window: Training, Charts, Samples and Canvas around one run.

The window owns at most one :class:`TrainingSession` and one :class:`TrainingWorker` in a
QThread. The GUI thread never touches the model being trained: the canvas and the gallery work
on CPU snapshots the worker emits when it pauses, steps or stops, or on a model opened from disk
(the shipped pretrained model at start-up). Every new run gets a run directory at once, so
autosave and "save on close" can never lose work.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QPlainTextEdit, QScrollArea, QToolBar)

from ..core.checkpoint import METRICS_FILE, MetricsLog, load_run
from ..core.config import RunConfig, config_to_toml, load_config
from ..core.device import describe_device
from ..core.errors import EbmStudioError
from ..core.models_io import available_pretrained, open_model
from ..core.trainer import CSV_FIELDS
from .charts import ChartsPanel
from .samples_panel import SamplesPanel
from .training_panel import TrainingPanel
from .worker import TrainingWorker

MAX_RECENT = 8


def default_runs_dir() -> Path:
    env = os.environ.get("EBM_STUDIO_RUNS_DIR")
    return Path(env) if env else Path.home() / "ebm-studio-runs"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_pretrained: bool = True, restore_state: bool = True,
                 confirm_close=None):
        super().__init__()
        self.setWindowTitle("EBM Studio")
        self.settings = settings or QSettings("EBM Studio", "EBM Studio")
        self.confirm_close = confirm_close or self._ask_save_on_close
        self.session = None
        self.worker: TrainingWorker | None = None
        self.thread: QThread | None = None
        self.loaded_run_dir: Path | None = None  # an opened run whose training Start continues
        self.model = None  # the model the canvas and gallery use (a CPU snapshot)
        self.model_cfg: RunConfig | None = None
        self.state = "idle"
        self._rate_marks: list[tuple[float, int]] = []
        self._closing = False

        self.charts = ChartsPanel()
        self.setCentralWidget(self.charts)
        self.training = TrainingPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.training)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(400)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.training_dock = self._dock("Training", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.samples = SamplesPanel()
        self.samples_dock = self._dock("Samples", self.samples, Qt.DockWidgetArea.RightDockWidgetArea)
        self.canvas = self._make_canvas()
        self.canvas_dock = self._dock("Canvas", self.canvas, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.samples_dock, self.canvas_dock)
        self.fields_view = self._make_fields_view()
        self.fields_dock = self._dock("Receptive fields", self.fields_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.canvas_dock, self.fields_dock)
        self.fields_dock.hide()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log_dock = self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.samples_dock.raise_()
        self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)
        self.resizeDocks([self.samples_dock], [520], Qt.Orientation.Horizontal)

        self._make_actions()
        self._make_status()
        self.training.validity_changed.connect(self._update_actions)
        self.training.live_settings_changed.connect(self._push_live_settings)
        self.samples.message.connect(self.show_message)
        self.samples.error.connect(self.show_error)
        if hasattr(self.canvas, "message"):
            self.canvas.message.connect(self.show_message)
            self.canvas.error.connect(self.show_error)
        self.resize(1400, 900)
        if restore_state:
            self._restore_settings()
        self._update_actions()
        if load_pretrained:
            self._load_default_model()

    # --- construction helpers -----------------------------------------------------------------
    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_canvas(self):
        try:
            from .canvas import CanvasPanel
        except ImportError:
            label = QLabel("The Langevin canvas is not available in this build.")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label
        return CanvasPanel()

    def _make_fields_view(self):
        try:
            from .receptive_fields import ReceptiveFieldView
        except ImportError:
            return QLabel("Receptive fields are shown for Boltzmann machines.")
        return ReceptiveFieldView()

    def _make_actions(self) -> None:
        tb = QToolBar("Run controls")
        tb.setObjectName("run_controls")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        style = self.style()
        sp = style.StandardPixmap

        def act(text, icon, shortcut, slot, tip):
            a = QAction(style.standardIcon(icon), text, self)
            a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})")
            a.triggered.connect(slot)
            tb.addAction(a)
            return a

        self.start_action = act("Start", sp.SP_MediaPlay, "Ctrl+R", self.start, "Start or continue training")
        self.pause_action = act("Pause", sp.SP_MediaPause, "Ctrl+P", self.toggle_pause, "Pause / resume between two steps")
        self.step_action = act("Step", sp.SP_MediaSeekForward, "Ctrl+T", self.step, "One training step while paused")
        self.stop_action = act("Stop", sp.SP_MediaStop, "Ctrl+.", self.stop, "Stop training (the run is kept)")
        self.reset_action = act("Reset", sp.SP_BrowserReload, "Ctrl+Shift+R", self.reset, "Discard the run and start afresh")

        m = self.menuBar().addMenu("&File")
        self.open_action = m.addAction("&Open run or checkpoint…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.pretrained_menu = m.addMenu("Open &pretrained")
        for name in available_pretrained():
            self.pretrained_menu.addAction(name, lambda n=name: self.open_path(f"pretrained:{n}"))
        self.pretrained_menu.setEnabled(bool(available_pretrained()))
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        self.save_action = m.addAction("&Save checkpoint…", QKeySequence.StandardKey.Save, self.save_dialog)
        self.save_config_action = m.addAction("Save &config as TOML…", self.save_config_dialog)
        self.load_config_action = m.addAction("&Load config from TOML…", self.load_config_dialog)
        m.addSeparator()
        m.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        v = self.menuBar().addMenu("&View")
        for dock in (self.training_dock, self.samples_dock, self.canvas_dock, self.fields_dock, self.log_dock):
            v.addAction(dock.toggleViewAction())
        v.addAction(tb.toggleViewAction())
        h = self.menuBar().addMenu("&Help")
        h.addAction("&About EBM Studio", self.about)
        self._refresh_recent()

    def _make_status(self) -> None:
        sb = self.statusBar()
        self.state_label = QLabel("idle")
        self.step_label = QLabel("step –")
        self.rate_label = QLabel("– steps/s")
        self.device_label = QLabel("")
        for w in (self.state_label, self.step_label, self.rate_label, self.device_label):
            w.setMinimumWidth(90)
            sb.addPermanentWidget(w)

    # --- model shown in canvas / gallery ------------------------------------------------------
    def set_current_model(self, model, cfg) -> None:
        self.model, self.model_cfg = model, cfg
        self.samples.set_model(model, cfg)
        if hasattr(self.canvas, "set_model"):
            self.canvas.set_model(model, cfg)
        is_bm = cfg is not None and cfg.model.family != "conv"
        if is_bm and hasattr(model, "weights_image") and hasattr(self.fields_view, "set_weights"):
            self.fields_view.set_weights(np.asarray(model.weights_image(), dtype=np.float32))
            self.fields_dock.show()

    def _load_default_model(self) -> None:
        if "conv" not in available_pretrained() and not available_pretrained():
            self.log_line("no pretrained model shipped; train one to sample and play")
            return
        try:
            run = open_model("pretrained")
        except EbmStudioError as exc:
            self.show_error(f"could not load the pretrained model: {exc}")
            return
        self.set_current_model(run.model, run.config)
        self.training.set_config(run.config)
        self.log_line(f"loaded pretrained model from {run.path}")

    # --- run control --------------------------------------------------------------------------
    def start(self) -> None:
        if self.worker is not None:
            if self.worker.is_paused:
                self.worker.resume()
            return
        if not self._ensure_session():
            return
        self._launch_worker(paused=False)

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self.worker.is_paused:
            self.worker.resume()
            self._set_state("running")
        else:
            self.worker.pause()
            self._set_state("pausing")

    def step(self) -> None:
        if self.worker is None:
            if not self._ensure_session():
                return
            self._launch_worker(paused=True)
        if self.worker.is_paused:
            self.worker.step_once()

    def stop(self, wait: bool = True) -> None:
        if self.worker is None:
            return
        self.worker.stop()
        if wait and self.thread is not None:
            self.thread.quit()
            self.thread.wait(10000)
            QApplication.processEvents()

    def reset(self) -> None:
        self.stop()
        self.session = None
        self.loaded_run_dir = None
        self.charts.clear()
        self._set_state("idle")
        self.step_label.setText("step –")
        self.log_line("reset: the next Start begins a new run")

    def _ensure_session(self) -> bool:
        from ..core.session import TrainingSession

        if self.session is not None:
            return True
        try:
            if self.loaded_run_dir is not None:
                self.session = TrainingSession(RunConfig(), run_dir=self.loaded_run_dir, resume=True)
                self.log_line(f"continuing run {self.loaded_run_dir} from step {self.session.trainer.step}")
            else:
                cfg = self.training.config()
                stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
                run_dir = default_runs_dir() / f"{cfg.model.family}-{stamp}"
                self.session = TrainingSession(cfg, run_dir=run_dir)
                self.charts.clear()
                self.log_line(f"new run in {run_dir}")
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return False
        except Exception as exc:  # e.g. a family not available
            self.show_error(f"cannot start training: {exc}")
            return False
        self.device_label.setText(describe_device(self.session.trainer.device))
        return True

    def _launch_worker(self, paused: bool) -> None:
        self.thread = QThread(self)
        self.worker = TrainingWorker(self.session, self.training.budget())
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.thread.finished.connect(self._worker_finished)
        self.worker.records.connect(self._on_records)
        self.worker.negatives.connect(self.samples.show_negatives)
        self.worker.state_changed.connect(self._set_state)
        self.worker.error.connect(self.show_error)
        self.worker.event.connect(self.log_line)
        self.worker.saved.connect(self.show_message)
        self.worker.snapshot_ready.connect(self.set_current_model)
        if hasattr(self.fields_view, "set_weights"):
            self.worker.weights.connect(self._on_weights)
        if not paused:
            self.worker.start_running()
        self.training.set_running(True)
        if hasattr(self.canvas, "set_training_active"):
            self.canvas.set_training_active(True)
        self._rate_marks = []
        self.thread.start()
        self._set_state("paused" if paused else "running")

    def _worker_finished(self) -> None:
        if self.worker is not None:
            self.worker.deleteLater()
        if self.thread is not None:
            self.thread.deleteLater()
        self.worker, self.thread = None, None
        self.training.set_running(False)
        if hasattr(self.canvas, "set_training_active"):
            self.canvas.set_training_active(False)
        if self.session is not None and not self._closing:
            try:
                self.session.save()
                self.log_line(f"run saved to {self.session.run_dir}")
            except (EbmStudioError, OSError) as exc:
                self.show_error(f"could not save the run: {exc}")
        self._set_state("stopped")

    def _on_weights(self, weights) -> None:
        self.fields_view.set_weights(weights)
        if self.fields_dock.isHidden():
            self.fields_dock.show()

    def _on_records(self, records: list[dict]) -> None:
        self.charts.add_records(records)
        last = records[-1]
        now = time.monotonic()
        self._rate_marks.append((now, last["step"]))
        self._rate_marks = [m for m in self._rate_marks if now - m[0] <= 3.0]
        if len(self._rate_marks) >= 2 and self._rate_marks[-1][0] > self._rate_marks[0][0]:
            (t0, s0), (t1, s1) = self._rate_marks[0], self._rate_marks[-1]
            self.rate_label.setText(f"{(s1 - s0) / (t1 - t0):.1f} steps/s")
        self.step_label.setText(f"step {last['step']}  epoch {last['epoch']:.2f}")

    def _push_live_settings(self) -> None:
        if self.worker is None:
            return
        try:
            cfg = self.training.config()
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return
        self.worker.update_settings(cfg)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_label.setText(state)
        self.pause_action.setText("Resume" if state in ("paused", "pausing") else "Pause")
        self._update_actions()

    def _update_actions(self, *_) -> None:
        running = self.worker is not None
        paused = running and self.worker.is_paused
        valid = self.training.is_valid()
        can_start = (valid or self.loaded_run_dir is not None or self.session is not None)
        self.start_action.setEnabled((not running and can_start) or paused)
        self.pause_action.setEnabled(running)
        self.step_action.setEnabled(paused or (not running and can_start))
        self.stop_action.setEnabled(running)
        self.reset_action.setEnabled(not running or paused)

    # --- files --------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run directory")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        if self.worker is not None:
            self.show_error("stop training before opening another run")
            return False
        try:
            run = open_model(path) if str(path).startswith("pretrained") else load_run(path, with_trainer_state=False)
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return False
        self.session = None
        self.set_current_model(run.model, run.config)
        self.training.set_config(run.config)
        is_pretrained = str(path).startswith("pretrained")
        self.loaded_run_dir = None if is_pretrained else run.path
        metrics = run.path / METRICS_FILE
        self.charts.clear()
        if metrics.exists():
            rows = []
            for r in MetricsLog(metrics, CSV_FIELDS).rows:
                try:
                    rows.append({k: float(r[k]) for k in ("step", "epoch", "loss", "grad_norm", "e_data", "e_samples")})
                except (KeyError, TypeError, ValueError):
                    continue
            self.charts.add_records(rows)
        if not is_pretrained:
            self._add_recent(str(run.path))
        self.log_line(f"opened {run.path}")
        self._update_actions()
        return True

    def save_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save checkpoint into folder")
        if path:
            self.save_checkpoint(path)

    def save_checkpoint(self, path: str) -> bool:
        from ..core.checkpoint import save_run

        try:
            if self.worker is not None:
                self.worker.request_save(path)  # saved between two steps by the worker
                return True
            if self.session is not None:
                self.session.save(path)
            elif self.model is not None:
                save_run(path, self.model, self.model_cfg)
            else:
                self.show_error("nothing to save yet")
                return False
        except (EbmStudioError, OSError) as exc:
            self.show_error(f"could not save: {exc}")
            return False
        self._add_recent(str(path))
        self.show_message(f"saved {path}")
        return True

    def save_config_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save config", "config.toml", "TOML (*.toml)")
        if path:
            self.save_config(path)

    def save_config(self, path: str) -> bool:
        from ..core.config import save_config

        try:
            save_config(self.training.config(), path)
        except (EbmStudioError, OSError) as exc:
            self.show_error(f"could not save config: {exc}")
            return False
        self.show_message(f"config saved to {path}")
        return True

    def load_config_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load config", "", "TOML (*.toml)")
        if path:
            try:
                self.training.set_config(load_config(path))
            except EbmStudioError as exc:
                self.show_error(str(exc))

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self._recent() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self._refresh_recent()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent():
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(self._recent()))

    # --- messages -----------------------------------------------------------------------------
    def log_line(self, text: str) -> None:
        self.log.appendPlainText(f"[{datetime.datetime.now():%H:%M:%S}] {text}")

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)
        self.log_line(text)

    def show_error(self, text: str) -> None:
        self.statusBar().showMessage(f"⚠ {text}", 12000)
        self.log_line(f"ERROR: {text}")
        self.log_dock.show()
        self.last_error = text

    def about(self) -> None:
        QMessageBox.about(self, "About EBM Studio",
                          "<b>EBM Studio</b> — an interactive lab for energy-based generative models.<br><br>"
                          "MNIST database of handwritten digits by Yann LeCun, Corinna Cortes and Christopher J. C. "
                          "Burges, licensed CC BY-SA 3.0.")

    # --- persistence and shutdown -------------------------------------------------------------
    def _restore_settings(self) -> None:
        geo = self.settings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        st = self.settings.value("window_state")
        if st is not None:
            self.restoreState(st)
        text = self.settings.value("last_config")
        if text:
            try:
                import tomllib

                self.training.set_config(RunConfig.from_dict(tomllib.loads(str(text))))
            except Exception:
                pass  # stale or broken settings must never stop the app from opening

    def _save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        try:
            self.settings.setValue("last_config", config_to_toml(self.training.config()))
        except EbmStudioError:
            pass
        self.settings.sync()

    def _ask_save_on_close(self) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Save the run before closing?", parent=self)
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(answer), "cancel")

    def closeEvent(self, event) -> None:
        if self.worker is not None:
            choice = self.confirm_close()
            if choice == "cancel":
                event.ignore()
                return
            self._closing = True
            self.stop(wait=True)
            if choice == "save" and self.session is not None:
                try:
                    self.session.save()
                except (EbmStudioError, OSError) as exc:
                    self.show_error(f"could not save: {exc}")
        if hasattr(self.canvas, "shutdown"):
            self.canvas.shutdown()
        from .tasks import wait_for_jobs

        wait_for_jobs(3000)
        self._save_settings()
        super().closeEvent(event)


def launch(argv: list[str]) -> int:
    from ..core.device import configure_threads

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("EBM Studio")
    app.setOrganizationName("EBM Studio")
    configure_threads(for_gui_worker=True)
    win = MainWindow()
    win.show()
    return app.exec()
