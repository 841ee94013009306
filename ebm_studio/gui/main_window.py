"""The studio's main window: Training, Charts, Samples and Canvas docks around one run.

The window owns at most one :class:`TrainingSession` and one :class:`TrainingWorker` in a
QThread. The GUI thread never touches the model being trained: the canvas and the gallery work
on CPU copies the worker emits when it pauses, steps or stops (or on request, between two
steps), or on a model opened from disk (the shipped pretrained model at start-up). Every new
run gets a run directory at once, so autosave and "save on close" can never lose work.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QToolBar,
    QWidget,
)

from ..core.checkpoint import METRICS_FILE, MetricsLog, load_run
from ..core.config import RunConfig, config_to_toml, load_config
from ..core.device import describe_device, resolve_device
from ..core.errors import EbmStudioError
from ..core.models_io import available_pretrained, open_model
from ..core.trainer import CSV_FIELDS
from .charts import ChartsPanel
from .gui_gc import GuiThreadCollector
from .samples_panel import SamplesPanel
from .training_panel import TrainingPanel
from .worker import TrainingWorker, family_weights

MAX_RECENT = 8
STATE_COLORS = {"running": "#2e7d32", "starting": "#2e7d32", "paused": "#b26a00", "pausing": "#b26a00",
                "stopping": "#b26a00", "error": "#c62828"}


def default_runs_dir() -> Path:
    env = os.environ.get("EBM_STUDIO_RUNS_DIR")
    return Path(env) if env else Path.home() / "ebm-studio-runs"


class MainWindow(QMainWindow):
    """``MainWindow(settings, load_pretrained, restore_state, confirm_close)``.

    Tests pass an ini-file ``QSettings``, ``load_pretrained=False``, ``restore_state=False`` and a
    ``confirm_close`` callable returning "save", "discard" or "cancel" instead of the dialog.
    """

    def __init__(self, settings: QSettings | None = None, load_pretrained: bool = True, restore_state: bool = True,
                 confirm_close=None):
        super().__init__()
        self.setWindowTitle("EBM Studio")
        self.setObjectName("ebm_studio_main")
        self.settings = settings or QSettings("EBM Studio", "EBM Studio")
        self.confirm_close = confirm_close or self._ask_save_on_close
        self.session = None
        self.run_cfg: RunConfig | None = None  # the config of the run being trained (live edits included)
        self.worker: TrainingWorker | None = None
        self.thread: QThread | None = None
        self.loaded_run_dir: Path | None = None  # an opened run whose training Start continues
        self.model = None  # the model the canvas and gallery use (a CPU snapshot)
        self.model_cfg: RunConfig | None = None
        self.state = "idle"
        self.last_error = ""
        self._rate_marks: list[tuple[float, int]] = []
        self._closing = False
        self.collector = GuiThreadCollector(self)  # cyclic GC in this thread only (see gui_gc)
        self.collector.start()

        self.setDockNestingEnabled(True)
        self.training = TrainingPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.training)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.training.minimumSizeHint().width() + 24)
        self.training_dock = self._dock("Training", scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.charts = ChartsPanel()
        self.charts_dock = self._dock("Charts", self.charts, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(self.training_dock, self.charts_dock, Qt.Orientation.Horizontal)
        self.canvas = self._make_canvas()
        canvas_scroll = QScrollArea()  # the canvas is wide; scroll rather than force a huge window
        canvas_scroll.setWidget(self.canvas)
        canvas_scroll.setWidgetResizable(True)
        canvas_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.canvas_dock = self._dock("Canvas", canvas_scroll, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.charts_dock, self.canvas_dock)
        self.samples = SamplesPanel()
        self.samples.fresh_model_hook = self._request_model_copy
        self.samples_dock = self._dock("Samples", self.samples, Qt.DockWidgetArea.RightDockWidgetArea)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("Events of the session: runs started and saved, divergences recovered, errors.")
        self.log_dock = self._dock("Log", self.log, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.samples_dock, self.log_dock, Qt.Orientation.Vertical)
        self.fields_view = self._make_fields_view()
        self.fields_dock = self._dock("Receptive fields", self.fields_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.samples_dock, self.fields_dock)
        self.fields_dock.hide()
        self.samples_dock.raise_()
        self.charts_dock.raise_()
        self._sized = False

        self._make_actions()
        self._make_status()
        self.training.validity_changed.connect(self._update_actions)
        self.training.live_settings_changed.connect(self._push_live_settings)
        self.training.family.currentIndexChanged.connect(self._idle_device_label)
        self.training.device.currentIndexChanged.connect(self._idle_device_label)
        self.samples.message.connect(self.show_message)
        self.samples.error.connect(self.show_error)
        if hasattr(self.canvas, "message"):
            self.canvas.message.connect(self.show_message)
            self.canvas.error.connect(self.show_error)
            if hasattr(self.canvas, "example_added"):
                self.canvas.example_added.connect(self.add_drawn_example)
        self.resize(1600, 940)
        if restore_state:
            self._sized = self._restore_settings()
        self.charts.set_config(self.training.config() if self.training.is_valid() else None)
        self._idle_device_label()
        self._update_actions()
        if load_pretrained:
            self._load_default_model()

    # --- construction helpers -----------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _default_dock_sizes(self) -> None:
        w = self.width()
        self.resizeDocks([self.training_dock, self.charts_dock, self.samples_dock],
                         [370, max(450, w - 370 - 430), 430], Qt.Orientation.Horizontal)
        self.resizeDocks([self.samples_dock, self.log_dock], [max(300, self.height() - 300), 200],
                         Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # dock sizes only take once the window is laid out
            self._sized = True
            QTimer.singleShot(0, self._default_dock_sizes)

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
            label = QLabel("Receptive fields are shown for Boltzmann machines.")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return label
        return ReceptiveFieldView()

    def _make_actions(self) -> None:
        tb = QToolBar("Run controls")
        tb.setObjectName("run_controls")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setMovable(False)
        self.addToolBar(tb)
        self.run_toolbar = tb
        style = self.style()
        sp = style.StandardPixmap

        def act(text, icon, shortcut, slot, tip):
            a = QAction(style.standardIcon(icon), text, self)
            a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
            a.triggered.connect(slot)
            tb.addAction(a)
            return a

        self.start_action = act("Start", sp.SP_MediaPlay, "Ctrl+R", self.start, "Start training, or continue the run")
        self.pause_action = act("Pause", sp.SP_MediaPause, "Ctrl+P", self.toggle_pause,
                                "Pause / resume between two steps")
        self.step_action = act("Step", sp.SP_MediaSeekForward, "Ctrl+T", self.step,
                               "One training step, then pause")
        self.stop_action = act("Stop", sp.SP_MediaStop, "Ctrl+.", lambda: self.stop(wait=False),
                               "Stop after the current step (the run is saved and kept)")
        self.reset_action = act("Reset", sp.SP_BrowserReload, "Ctrl+Shift+R", self.reset,
                                "Forget the run: the next Start begins a new one")
        tb.addSeparator()
        self.run_label = QLabel("")
        self.run_label.setStyleSheet("color: #555; padding-left: 8px;")
        tb.addWidget(self.run_label)

        m = self.menuBar().addMenu("&File")
        self.open_action = m.addAction("&Open run folder…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.open_file_action = m.addAction("Open checkpoint &file…", QKeySequence("Ctrl+Shift+O"),
                                            self.open_file_dialog)
        self.pretrained_menu = m.addMenu("Open &pretrained")
        for name in available_pretrained():
            self.pretrained_menu.addAction(name, lambda n=name: self.open_path(f"pretrained:{n}"))
        self.pretrained_menu.setEnabled(bool(available_pretrained()))
        self.recent_menu = m.addMenu("Open &recent")
        m.addSeparator()
        self.save_action = m.addAction("&Save checkpoint…", QKeySequence.StandardKey.Save, self.save_dialog)
        self.save_config_action = m.addAction("Save &config as TOML…", self.save_config_dialog)
        self.load_config_action = m.addAction("&Load config from TOML…", self.load_config_dialog)
        self.export_csv_action = m.addAction("Export chart data as CS&V…", self.charts.export_csv_dialog)
        self.export_grid_action = m.addAction("Export sample &grid…", self.samples.export_dialog)
        m.addSeparator()
        m.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        run = self.menuBar().addMenu("&Run")
        for a in (self.start_action, self.pause_action, self.step_action, self.stop_action, self.reset_action):
            run.addAction(a)
        v = self.menuBar().addMenu("&View")
        for dock in (self.training_dock, self.charts_dock, self.canvas_dock, self.samples_dock, self.fields_dock,
                     self.log_dock):
            v.addAction(dock.toggleViewAction())
        v.addAction(tb.toggleViewAction())
        v.addSeparator()
        v.addAction("Restore default &layout", self.restore_default_layout)
        h = self.menuBar().addMenu("&Help")
        h.addAction("&Keyboard shortcuts", self.show_shortcuts)
        h.addAction("&About EBM Studio", self.about)
        self._refresh_recent()

    def _make_status(self) -> None:
        sb = self.statusBar()
        self.state_label = QLabel("idle")
        self.step_label = QLabel("step –")
        self.rate_label = QLabel("– steps/s")
        self.device_label = QLabel("")
        for w, width in ((self.state_label, 70), (self.step_label, 170), (self.rate_label, 100),
                         (self.device_label, 150)):
            w.setMinimumWidth(width)
            sb.addPermanentWidget(w)
        self.state_label.setToolTip("Training state")
        self.step_label.setToolTip("Optimisation steps done and passes over the training set")
        self.rate_label.setToolTip("Training speed over the last three seconds")
        self.device_label.setToolTip("Where the model trains")

    def restore_default_layout(self) -> None:
        for dock in (self.training_dock, self.charts_dock, self.samples_dock, self.canvas_dock, self.log_dock):
            dock.setFloating(False)
            dock.show()
        self._default_dock_sizes()
        self.samples_dock.raise_()
        self.charts_dock.raise_()

    # --- model shown in canvas / gallery ------------------------------------------------------
    def set_current_model(self, model, cfg) -> None:
        """The model the Samples and Canvas docks use: always a CPU copy, never the live one."""
        self.model, self.model_cfg = model, cfg
        self.samples.set_model(model, cfg)
        if hasattr(self.canvas, "set_model"):
            self.canvas.set_model(model, cfg)
        self._update_family_views(model)

    def _load_guide(self, run_path) -> None:
        """The run's class guide (for steering the canvas toward a digit), if it has one."""
        from ..core.conv.guidance import GUIDE_FILE, load_guide

        guide = None
        if run_path is not None and (Path(run_path) / GUIDE_FILE).exists():
            try:
                guide, _ = load_guide(run_path)
            except EbmStudioError as exc:
                self.log_line(f"class guide not loaded: {exc}")
        if hasattr(self.canvas, "set_guide"):
            self.canvas.set_guide(guide)

    def _update_family_views(self, trainer_or_model) -> None:
        """Family-specific docks: the receptive fields of a Boltzmann machine (hidden units' weights).

        Accepts a model copy or anything with a ``.model`` (GUI thread only ever passes copies).
        """
        model = getattr(trainer_or_model, "model", trainer_or_model)
        weights = family_weights(model) if model is not None else None
        if weights is not None:
            self._on_weights(weights)

    def _on_weights(self, weights) -> None:
        if not hasattr(self.fields_view, "set_weights"):
            return
        self.fields_view.set_weights(weights)
        if self.fields_dock.isHidden():
            self.fields_dock.show()

    def _load_default_model(self) -> None:
        """The shipped pretrained model (with its training history) for the gallery and canvas."""
        if not available_pretrained():
            self.log_line("no pretrained model shipped; train one to sample and play")
            return
        if self.open_path("pretrained"):
            self.log_line("Generate draws samples from it; Start trains a new model with these settings")

    # --- run control --------------------------------------------------------------------------
    def start(self) -> None:
        if self.worker is not None:
            if self.worker.is_paused and not self.worker.is_stopping:
                self.worker.resume()
                self._set_state("running")
            return
        self._launch_worker(paused=False)

    def toggle_pause(self) -> None:
        if self.worker is None or self.worker.is_stopping:
            return
        if self.worker.is_paused:
            self.worker.resume()
            self._set_state("running")
        else:
            self.worker.pause()
            self._set_state("pausing")

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
        self._set_state("stopping")
        if wait:
            self._join_worker()

    def _join_worker(self) -> None:
        thread = self.thread
        if thread is None:
            return
        import shiboken6

        # processEvents may deliver finished() -> deleteLater(): the C++ thread can vanish under us
        while shiboken6.isValid(thread) and thread.isRunning():  # the current step finishes, then the loop sees the flag
            thread.wait(50)
            QApplication.processEvents()
        QApplication.processEvents()  # deliver the last records and thread.finished -> _worker_finished
        if self.thread is thread:  # finished() not delivered yet (no event loop running)
            self._worker_finished(thread)

    def reset(self) -> None:
        self.stop()
        self.session = None
        self.run_cfg = None
        self.loaded_run_dir = None
        self.charts.clear()
        self._set_state("idle")
        self.step_label.setText("step –")
        self.rate_label.setText("– steps/s")
        self.run_label.setText("")
        self._idle_device_label()
        self.log_line("reset: the next Start begins a new run")

    def add_drawn_example(self, image) -> Path:
        """Keep a drawing from the canvas as a few-shot training image: saved at once as a PNG in a
        folder of drawings, which becomes the training panel's dataset. Named after the digit when
        exactly one digit is ticked (so it is labelled), else unlabelled."""
        from ..core.images import save_gray_png

        folder = getattr(self, "examples_dir", None)
        if folder is None or not folder.is_dir():
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = default_runs_dir() / f"drawings-{stamp}"
            folder.mkdir(parents=True, exist_ok=True)
            self.examples_dir = folder
        n = len(list(folder.glob("*.png"))) + 1
        ticked = [d for d, cb in enumerate(self.training.digit_boxes) if cb.isChecked()]
        name = f"{ticked[0]}_drawing-{n:03d}.png" if len(ticked) == 1 else f"drawing-{n:03d}-unlabelled.png"
        path = folder / name
        save_gray_png(path, image)
        self.training._set_source(str(folder))
        self.training.examples.set_value(0)
        self.show_message(f"{n} drawing(s) in {folder}: the training data now (tick 'Start from the model "
                          "shown' to fine-tune on them)")
        return path

    def _session_source(self):
        """The session to continue, or a factory the worker calls to build a new one; None on bad input."""
        from ..core.session import TrainingSession

        if self.session is not None:
            return self.session
        fine_tune = self.training.fine_tune.isChecked()
        if self.loaded_run_dir is not None and not fine_tune:
            run_dir = self.loaded_run_dir
            self.log_line(f"continuing run {run_dir}")
            return lambda: TrainingSession(RunConfig(), run_dir=run_dir, resume=True)
        try:
            cfg = self.training.config()
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return None
        source, kind, note = None, "", ""
        if fine_tune:
            if self.model is None or self.model_cfg is None:
                self.show_error("fine-tuning starts from the model shown: load or train one first")
                return None
            from ..core.session import transfer_config

            cfg, source = transfer_config(self.model_cfg, cfg), self.model
            kind, note = "-finetune", ", fine-tuning the model shown"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = default_runs_dir() / f"{cfg.model.family}{kind}-{stamp}"
        self.charts.clear()
        self.charts.set_config(cfg)
        self.log_line(f"new run in {run_dir}{note}")
        return lambda: TrainingSession(cfg, run_dir=run_dir, init_model=source)

    def _launch_worker(self, paused: bool) -> bool:
        source = self._session_source()
        if source is None:
            return False
        self.thread = QThread(self)
        self.worker = TrainingWorker(source, self.training.budget(), self.training.live_overrides())
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.thread.finished.connect(lambda t=self.thread: self._worker_finished(t))
        self.worker.session_ready.connect(self._on_session_ready)
        self.worker.records.connect(self._on_records)
        self.worker.negatives.connect(self._on_negatives)
        self.worker.weights.connect(self._on_weights)
        self.worker.state_changed.connect(self._on_worker_state)
        self.worker.error.connect(self._on_worker_error)
        self.worker.event.connect(self._on_worker_event)
        self.worker.saved.connect(self.show_message)
        self.worker.snapshot_ready.connect(self.set_current_model)
        self.worker.model_copy.connect(self._on_model_copy)
        if not paused:
            self.worker.start_running()
        self.training.set_running(True)
        self.samples.set_training_active(True)
        if hasattr(self.canvas, "set_training_active"):
            self.canvas.set_training_active(True)
        self._rate_marks = []
        self.thread.start()
        self._set_state("starting" if self.session is None else ("paused" if paused else "running"))
        return True

    def _on_session_ready(self, session, cfg) -> None:
        first = self.session is None
        self.session, self.run_cfg = session, cfg
        self.charts.set_config(cfg)
        self.device_label.setText(describe_device(session.trainer.device))
        self.run_label.setText(f"run: {session.run_dir}")
        self.run_label.setToolTip(str(session.run_dir))
        if first and self.loaded_run_dir is not None:
            self.log_line(f"resumed at step {session.trainer.step}")
        if self.state == "starting" and self.worker is not None:
            self._set_state("paused" if self.worker.is_paused else "running")

    def _worker_finished(self, thread: QThread | None = None) -> None:
        if thread is not None and thread is not self.thread:
            return  # already cleaned up (joined by stop(wait=True))
        failed = self.worker is not None and self.worker.failed
        if self.worker is not None:
            self.worker.deleteLater()
        if self.thread is not None:
            self.thread.deleteLater()
        self.worker, self.thread = None, None
        self.training.set_running(False)
        self.samples.set_training_active(False)
        if hasattr(self.canvas, "set_training_active"):
            self.canvas.set_training_active(False)
        if self.session is not None and not self._closing:
            try:
                self.session.save()
                self.log_line(f"run saved to {self.session.run_dir}")
                self._add_recent(str(self.session.run_dir))
            except (EbmStudioError, OSError) as exc:
                self.show_error(f"could not save the run: {exc}")
        self._set_state("error" if failed else "stopped")

    def _on_worker_state(self, state: str) -> None:
        if self.worker is not None and self.worker.is_stopping and state != "stopped":
            return  # a late "paused"/"running" must not hide that we are stopping
        self._set_state(state)

    def _on_records(self, records: list[dict]) -> None:
        self.charts.add_records(records)
        last = records[-1]
        now = time.monotonic()
        self._rate_marks.append((now, last["step"]))
        self._rate_marks = [m for m in self._rate_marks if now - m[0] <= 3.0]
        if len(self._rate_marks) >= 2 and self._rate_marks[-1][0] > self._rate_marks[0][0]:
            (t0, s0), (t1, s1) = self._rate_marks[0], self._rate_marks[-1]
            self.rate_label.setText(f"{(s1 - s0) / (t1 - t0):.1f} steps/s")
        self.step_label.setText(f"step {last['step']}   epoch {last['epoch']:.2f}")

    def _on_negatives(self, images) -> None:
        self.samples.show_negatives(images, self.run_cfg)

    def _on_worker_event(self, text: str) -> None:
        self.log_line(text)
        if "diverged" in text:
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
            self.run_cfg = cfg
            self.worker.update_settings(cfg)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_label.setText(state)
        color = STATE_COLORS.get(state)
        self.state_label.setStyleSheet(f"color: {color}; font-weight: bold;" if color else "")
        self.pause_action.setText("Resume" if state in ("paused", "pausing") else "Pause")
        self._update_actions()

    def _update_actions(self, *_) -> None:
        running = self.worker is not None
        stopping = running and self.worker.is_stopping
        paused = running and self.worker.is_paused and not stopping
        valid = self.training.is_valid()
        can_start = valid or self.loaded_run_dir is not None or self.session is not None
        self.start_action.setEnabled((not running and can_start) or paused)
        self.pause_action.setEnabled(running and not stopping)
        self.step_action.setEnabled(paused or (not running and can_start))
        self.stop_action.setEnabled(running and not stopping)
        self.reset_action.setEnabled((not running or paused) and (self.session is not None
                                                                   or self.loaded_run_dir is not None))
        self.open_action.setEnabled(not running)
        self.open_file_action.setEnabled(not running)
        self.recent_menu.setEnabled(not running and bool(self._recent()))
        self.pretrained_menu.setEnabled(not running and bool(available_pretrained()))
        self.start_action.setToolTip("Start training, or continue the run (Ctrl+R)" if valid or running else
                                     f"Fix the settings first: {self.training.message.text()}")

    def _idle_device_label(self, *_) -> None:
        if self.worker is not None or self.session is not None:
            return
        try:
            self.device_label.setText(describe_device(resolve_device(self.training.device.currentData())))
        except EbmStudioError as exc:
            self.device_label.setText(str(exc))

    # --- files --------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run folder", str(default_runs_dir()))
        if path:
            self.open_path(path)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(default_runs_dir()),
                                              "Checkpoints (*.safetensors config.toml);;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open a run folder, a checkpoint file or ``pretrained[:name]``; Start then continues it."""
        if self.worker is not None:
            self.show_error("stop training before opening another run")
            return False
        is_pretrained = str(path).startswith("pretrained")
        try:
            run = open_model(path) if is_pretrained else load_run(path, with_trainer_state=False)
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return False
        self.session = None
        self.run_cfg = None
        self.set_current_model(run.model, run.config)
        self._load_guide(run.path)
        self.training.set_config(run.config)
        self.charts.set_config(run.config)
        self.loaded_run_dir = None if is_pretrained else run.path
        self.charts.clear()
        metrics = run.path / METRICS_FILE
        if metrics.exists():
            self.charts.add_records(read_metrics(metrics))
        if self.charts.n_points:
            self.step_label.setText(f"step {int(self.charts.steps.view()[-1])}")
        if not is_pretrained:
            self._add_recent(str(path))
        self.run_label.setText(f"opened: {run.path}")
        self.run_label.setToolTip(str(run.path))
        self.log_line(f"opened {run.path}" + ("" if is_pretrained else "; Start continues this run"))
        self._set_state("idle")
        return True

    def save_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Save checkpoint into folder", str(default_runs_dir()))
        if path:
            self.save_checkpoint(path)

    def save_checkpoint(self, path: str) -> bool:
        """Save weights, config, trainer state and metrics into ``path`` (between steps if training)."""
        from ..core.checkpoint import save_run

        try:
            if self.worker is not None:
                self.worker.request_save(path)  # saved between two steps by the worker
                self._add_recent(str(path))
                return True
            if self.session is not None:
                self.session.save(path)
            elif self.model is not None:
                save_run(path, self.model, self.model_cfg)
            else:
                self.show_error("nothing to save yet: train or open a model first")
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
            self.load_config_file(path)

    def load_config_file(self, path: str) -> bool:
        if self.worker is not None:
            self.show_error("stop training before loading another config")
            return False
        try:
            cfg = load_config(path)
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return False
        self.training.set_config(cfg)
        self.charts.set_config(cfg)
        self.show_message(f"settings loaded from {path}")
        return True

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
        self.statusBar().showMessage(f"⚠ {text}", 15000)
        self.log_line(f"ERROR: {text}")
        self.log_dock.show()
        self.last_error = text

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)}</b></td>"
                       f"<td>&nbsp;{a.text()}</td></tr>"
                       for a in (self.start_action, self.pause_action, self.step_action, self.stop_action,
                                 self.reset_action, self.open_action, self.save_action))
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def about(self) -> None:
        QMessageBox.about(self, "About EBM Studio",
                          "<b>EBM Studio</b>: an interactive lab for energy-based generative models of "
                          "handwritten digits: train them, watch them learn, and explore their energy landscape."
                          "<br><br>The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
                          "Christopher J. C. Burges, licensed CC BY-SA 3.0.")

    # --- persistence and shutdown -------------------------------------------------------------
    def _restore_settings(self) -> bool:
        """Geometry, dock layout, last settings and budget; True if a saved layout was restored."""
        geo = self.settings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        st = self.settings.value("window_state")
        restored = st is not None and bool(self.restoreState(st))
        text = self.settings.value("last_config")
        if text:
            try:
                import tomllib

                self.training.set_config(RunConfig.from_dict(tomllib.loads(str(text))))
            except Exception:
                pass  # stale or broken settings must never stop the app from opening
        budget = self.settings.value("budget")
        if isinstance(budget, str) and "=" in budget:
            kind, _, value = budget.partition("=")
            if kind in [self.training.budget_kind.itemText(i) for i in range(self.training.budget_kind.count())]:
                self.training.budget_kind.setCurrentText(kind)
                self.training.budget_value.setText(value)
        return restored

    def _save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        try:
            self.settings.setValue("last_config", config_to_toml(self.training.config()))
        except EbmStudioError:
            pass
        self.settings.setValue("budget", f"{self.training.budget_kind.currentText()}={self.training.budget_value.text()}")
        self.settings.sync()

    def _ask_save_on_close(self) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Save the run before closing?", parent=self)
        box.setInformativeText("Training stops after the current step either way.")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(answer), "cancel")

    def closeEvent(self, event) -> None:
        if self._closing:
            event.ignore()  # already shutting down (a second close while the last step finishes)
            return
        if self.worker is not None:
            choice = self.confirm_close()
            if choice == "cancel":
                event.ignore()
                return
            self._closing = True
            self.statusBar().showMessage("stopping after the current step…")
            self.stop(wait=True)
            if choice == "save" and self.session is not None:
                try:
                    self.session.save()
                except (EbmStudioError, OSError) as exc:
                    self.show_error(f"could not save: {exc}")
        self._closing = True
        if hasattr(self.canvas, "shutdown"):
            self.canvas.shutdown()
        from .tasks import wait_for_jobs

        wait_for_jobs(5000)
        self._save_settings()
        self.collector.stop()
        super().closeEvent(event)


def read_metrics(path: Path) -> list[dict]:
    """Chart rows from a run's metrics.csv (rows that do not parse are skipped)."""
    rows = []
    for r in MetricsLog(path, CSV_FIELDS).rows:
        try:
            row = {k: float(r[k]) for k in ("step", "epoch", "loss", "grad_norm", "e_data", "e_samples")}
        except (KeyError, TypeError, ValueError):
            continue
        row["event"] = r.get("event") or None
        rows.append(row)
    return rows


def launch(argv: list[str]) -> int:
    from ..core.device import configure_threads

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("EBM Studio")
    app.setOrganizationName("EBM Studio")
    configure_threads(for_gui_worker=True)
    win = MainWindow()
    install_excepthook(win)
    win.show()
    return app.exec()


def install_excepthook(win: MainWindow) -> None:
    """A bug in a slot prints its traceback and shows one line in the window; the app keeps running."""
    import sys
    import traceback

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        try:
            win.show_error(f"internal error: {kind.__name__}: {value} (details on the console)")
        except Exception:
            pass

    sys.excepthook = hook
