"""The studio's main window: Training, Charts, Canvas, Samples and Log docks around one run.

The state lives in a Qt-free :class:`~ebm_studio.controller.StudioController` (the model shown,
the run, the samples and their evaluation, the dataset, the jobs); the window builds the views
and connects each to the controller's events, so switching model, run or family updates every
view. The pieces: ``window_layout`` (docks), ``window_actions`` (toolbar and menus),
``status_view`` (status bar), ``window_files`` (open and save), ``run_control`` (the training
worker). The GUI thread never touches the model being trained: views get CPU copies.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from ..controller import StudioController
from ..core.config import RunConfig, config_to_toml
from ..core.errors import EbmStudioError
from ..core.models_io import available_pretrained
from . import window_actions, window_layout
from .canvas import CanvasPanel
from .charts import ChartsPanel
from .gui_gc import GuiThreadCollector
from .paths import default_runs_dir
from .receptive_fields import ReceptiveFieldView
from .run_control import RunControl
from .samples_panel import SamplesPanel
from .status_view import StatusView
from .training_panel import TrainingPanel
from .window_files import FileActions, read_metrics
from .worker import family_weights

__all__ = ["MainWindow", "default_runs_dir", "launch", "read_metrics"]
CLOSE_WAIT_MS = 1500  # jobs are cancelled on close; each stops within one sampler step


class MainWindow(RunControl, FileActions, QMainWindow):
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
        self.controller = StudioController()
        self.worker = None
        self.thread = None
        self.last_error = ""
        self._closing = False
        self.collector = GuiThreadCollector(self)  # cyclic GC in this thread only (see gui_gc)
        self.collector.start()

        self.training = TrainingPanel(self.controller)
        self.charts = ChartsPanel()
        self.canvas = CanvasPanel(jobs=self.controller.jobs)
        self.samples = SamplesPanel(self.controller)
        self.samples.fresh_model_hook = self._request_model_copy
        self.fields_view = ReceptiveFieldView()
        window_layout.build_docks(self)
        window_actions.build_toolbar(self)
        window_actions.build_menus(self)
        self.status = StatusView(self.statusBar(), self.controller)
        self.state_label, self.step_label = self.status.state_label, self.status.step_label
        self.rate_label, self.device_label = self.status.rate_label, self.status.device_label
        self._connect()
        self._sized = False
        self.resize(*window_layout.default_window_size(self))
        if restore_state:
            self._sized = self._restore_settings()
        self.charts.set_config(self.training.config() if self.training.is_valid() else None)
        self._idle_device_label()
        self._update_actions()
        if load_pretrained:
            self._load_default_model()

    def _connect(self) -> None:
        c = self.controller
        c.model_changed.connect(self._render_model)
        c.run_changed.connect(self._update_actions)
        c.start_mode_changed.connect(self._update_actions)
        self.training.validity_changed.connect(self._update_actions)
        self.training.live_settings_changed.connect(self._push_live_settings)
        self.training.family.currentIndexChanged.connect(self._idle_device_label)
        self.training.device.currentIndexChanged.connect(self._idle_device_label)
        for view in (self.samples, self.canvas):
            view.message.connect(self.show_message)
            view.error.connect(self.show_error)
        self.canvas.example_added.connect(self.add_drawn_example)

    # --- state kept by the controller, read by tests and benchmarks ---------------------------
    @property
    def state(self) -> str:
        return self.controller.run_state

    @property
    def session(self):
        return self.controller.session

    @property
    def run_cfg(self):
        return self.controller.run_cfg

    @property
    def model(self):
        return self.controller.shown.model

    @property
    def model_cfg(self):
        return self.controller.shown.cfg

    def docks(self):
        return (self.training_dock, self.charts_dock, self.canvas_dock, self.samples_dock, self.fields_dock,
                self.log_dock)

    def stop_nowait(self) -> None:
        self.stop(wait=False)

    # --- layout --------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # dock sizes only take once the window is laid out (and maximised, if it is)
            self._sized = True
            for ms in (0, 300):  # timers owned by the window: none fires after it is gone
                timer = QTimer(self)
                timer.setSingleShot(True)
                timer.timeout.connect(lambda: window_layout.default_dock_sizes(self))
                timer.start(ms)

    def restore_default_layout(self) -> None:
        window_layout.restore_default_layout(self)

    # --- the model shown ---------------------------------------------------------------------
    def set_current_model(self, model, cfg, origin: str = "file") -> None:
        """Show ``model`` (a CPU copy, never the live one) in every view."""
        self.controller.show_model(model, cfg, origin if model is not None else "none")

    def _render_model(self, shown) -> None:
        self.samples.set_model(shown.model, shown.cfg)
        self.canvas.set_model(shown.model, shown.cfg)
        self._update_family_views(shown.model)

    def _update_family_views(self, trainer_or_model) -> None:
        """The receptive fields of a Boltzmann machine (hidden units' weights); hidden for other models."""
        model = getattr(trainer_or_model, "model", trainer_or_model)
        weights = family_weights(model) if model is not None else None
        if weights is not None:
            self._on_weights(weights)
        elif not self.controller.active:
            self.fields_wanted = False
            self.fields_dock.hide()

    def _on_weights(self, weights) -> None:
        self.fields_view.set_weights(weights)
        self.fields_wanted = True
        if self.fields_dock.isHidden():
            self.fields_dock.show()

    def _load_default_model(self) -> None:
        """The shipped pretrained model (with its history and samples) for the gallery and canvas."""
        if not available_pretrained():
            self.log_line("no pretrained model shipped; train one to sample and play")
            return
        self.open_in_background("pretrained", on_opened=lambda: self.log_line(  # the window paints meanwhile
            "Generate draws samples from it; Start trains a new model of the recipe in the "
            "Training panel (or fine-tunes this one, if chosen there)"))

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
        self.show_message(f"{n} drawing(s) in {folder}: the training data now (choose 'Fine-tune the model "
                          "shown' to fine-tune on them)")
        return path

    # --- messages ------------------------------------------------------------------------------
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

    def show_shortcuts(self):
        return window_actions.show_shortcuts(self)

    def about(self) -> None:
        window_actions.show_about(self)

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
        self.settings.setValue("budget",
                               f"{self.training.budget_kind.currentText()}={self.training.budget_value.text()}")
        self.settings.sync()

    def _ask_save_on_close(self) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", "Save the run before closing?", parent=self)
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
        self.canvas.shutdown()
        from .tasks import cancel_jobs, wait_for_jobs

        self.controller.jobs.cancel_all()
        cancel_jobs()
        wait_for_jobs(CLOSE_WAIT_MS)
        self._save_settings()
        self.collector.stop()
        super().closeEvent(event)


def launch(argv: list[str]) -> int:
    """Run the studio until its window closes; the process then ends at once (``os._exit``) so no
    pool thread or library teardown keeps it alive: everything worth keeping is saved by then."""
    from ..core.device import configure_threads

    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("EBM Studio")
    app.setOrganizationName("EBM Studio")
    configure_threads(for_gui_worker=True)
    win = MainWindow()
    install_excepthook(win)
    win.show()
    run_until_closed(app)


def run_until_closed(app: QApplication) -> None:
    """The event loop, then the end of the process (the window has cancelled its jobs and saved)."""
    import sys

    rc = app.exec()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


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
