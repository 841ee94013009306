"""Opening and saving: run folders, checkpoint files, the shipped models, configs, recent files.

A mixin of the main window. Opening shows the model through the controller (every view then
follows: samples, charts and their axes, canvas, status bar) and never drops the user's chosen
dataset (a folder of drawings stays the training data). A shipped model comes with its samples.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..controller import SampleSet
from ..core.checkpoint import METRICS_FILE, load_run
from ..core.config import load_config
from ..core.errors import EbmStudioError
from ..core.metrics_log import read_metrics as read_metrics_file
from ..core.models_io import available_pretrained, open_model
from .paths import default_runs_dir

MAX_RECENT = 8
SHIPPED_SAMPLES = "samples.png"


def read_metrics(path: Path) -> list[dict]:
    """Chart rows from a run's metrics.csv (MetricsError if the file cannot be read; read-only)."""
    rows = []
    for r in read_metrics_file(path):
        try:
            row = {k: float(r[k]) for k in ("step", "epoch", "loss", "grad_norm", "e_data", "e_samples")}
        except (KeyError, TypeError, ValueError):
            continue
        row["event"] = r.get("event") or None
        rows.append(row)
    return rows


def shipped_samples(run_path: Path, cfg) -> SampleSet:
    """The samples a shipped model comes with (its samples.png), as a SampleSet; empty if none."""
    from .sample_jobs import read_grid_png

    png = Path(run_path) / SHIPPED_SAMPLES
    if not png.is_file():
        return SampleSet()
    try:
        images = read_grid_png(png)
    except (OSError, ValueError):
        return SampleSet()
    steps = cfg.sampler.chain_steps()  # how samples.png was drawn
    return SampleSet(images, f"{len(images)} samples of the shipped model from uniform noise, {steps} steps "
                             "(its samples.png)", "shipped", steps)


def warm_readout(model) -> None:
    """Compute the canvas's ranking reference (real digits' energies, cached per model) here, in the
    opening job, instead of on the GUI thread when the canvas first shows the model."""
    from ..core.landscape import reference_energies

    try:
        reference_energies(model)
    except Exception:  # only a head start: the canvas's read-out reports its own failure
        pass


class FileActions:
    """Mixin of :class:`MainWindow` (needs ``controller``, ``training``, ``charts``, ``settings``)."""

    def _pretrained_names(self) -> list[str]:
        return available_pretrained()

    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run folder", str(default_runs_dir()))
        if path:
            self.open_in_background(path)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(default_runs_dir()),
                                              "Checkpoints (*.safetensors config.toml);;All files (*)")
        if path:
            self.open_in_background(path)

    def open_in_background(self, path: str, on_opened=None):
        """Open as a job (the menus' and start-up's way): the window keeps painting while a checkpoint
        loads and the canvas's reference energies are computed (most of the cost: 1000 test digits
        through the net), the job bar shows it, and Cancel drops the result. ``on_opened()`` runs once
        the model is shown. Returns the controller's job record."""
        from .tasks import run_job

        if self.worker is not None:
            self.show_error("stop training before opening another run")
            return None
        is_pretrained = str(path).startswith("pretrained")
        record = self.controller.jobs.begin(f"opening {Path(str(path)).name}")

        def load(job=None):
            run = open_model(path) if is_pretrained else load_run(path, with_trainer_state=False)
            job.check()  # cancelled while it loaded: drop it
            warm_readout(run.model)
            job.check()
            return run

        def done(run):
            if self.worker is None and not self._closing:
                self._show_opened(path, run, is_pretrained)
                if on_opened is not None:
                    on_opened()

        run_job(load, done, self.show_error, record=record, on_end=lambda: self.controller.jobs.end(record),
                on_cancelled=lambda: self.show_message(f"opening {path} cancelled"))
        return record

    def open_path(self, path: str) -> bool:
        """Open a run folder, a checkpoint file or ``pretrained[:name]`` (synchronously)."""
        if self.worker is not None:
            self.show_error("stop training before opening another run")
            return False
        is_pretrained = str(path).startswith("pretrained")
        try:
            run = open_model(path) if is_pretrained else load_run(path, with_trainer_state=False)
        except EbmStudioError as exc:
            self.show_error(str(exc))
            return False
        self._show_opened(path, run, is_pretrained)
        return True

    def _show_opened(self, path, run, is_pretrained: bool) -> None:
        history = []
        metrics = run.path / METRICS_FILE
        if os.path.lexists(metrics):
            try:
                history = read_metrics(metrics)
            except EbmStudioError as exc:  # the model opens; only its history is missing
                self.show_error(f"no training history shown: {exc}")
        dataset = self.training.data_source
        self.controller.session, self.controller.run_cfg = None, None
        self.controller.run_state = "idle"
        last_step = int(history[-1]["step"]) if history else None
        samples = shipped_samples(run.path, run.config) if is_pretrained else SampleSet()
        self.charts.clear()
        self.charts.set_config(run.config)
        if history:
            self.charts.add_records(history)
        if not is_pretrained:  # Start continues this run: the panel shows its settings
            self.training.set_config(run.config)
            if dataset != "mnist":  # the user's own data stays chosen (a folder of drawings, say)
                self.training._set_source(dataset)
        self.controller.show_model(run.model, run.config, "pretrained" if is_pretrained else "run", run.path,
                                   last_step=last_step, samples=samples)
        self._load_guide(run.path)
        if not is_pretrained:
            self._add_recent(str(path))
        self.run_label.setText(f"opened: {run.path}")
        self.run_label.setToolTip(str(run.path))
        self.log_line(f"opened {run.path}" + ("" if is_pretrained else "; Start continues this run"))
        self.controller.set_run_state("idle")

    def _load_guide(self, run_path) -> None:
        """The run's class guide (for steering the canvas toward a digit), if it has one."""
        from ..core.conv.guidance import GUIDE_FILE, load_guide

        guide = None
        if run_path is not None and (Path(run_path) / GUIDE_FILE).exists():
            try:
                guide, _ = load_guide(run_path)
            except EbmStudioError as exc:
                self.log_line(f"class guide not loaded: {exc}")
        self.canvas.set_guide(guide)

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
            self.recent_menu.addAction(p, lambda p=p: self.open_in_background(p))
        self.recent_menu.setEnabled(bool(self._recent()))
