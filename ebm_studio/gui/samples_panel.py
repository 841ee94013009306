"""The Samples panel: the model's samples (the shipped ones at start, fresh ones from noise on
Generate), the training run's live view, export, evaluation, Boltzmann reconstructions.

What is on screen is the controller's :class:`~ebm_studio.controller.SampleSet`; the caption
says what those images are. Generate, Evaluate and Reconstruct are jobs with progress and Cancel
(the controller's job list). Evaluate only ever scores samples drawn by the model's own sampler:
when the view shows something else (the live view of a DSM run is denoised training digits),
it draws the model's samples first and scores those.
"""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..controller import SampleSet, StudioController
from ..core.export import save_grid_png
from ..core.families import family
from .fields import NumberField
from .image_grid import ImageGrid
from .sample_jobs import METHOD_NAMES, generate_samples, live_caption, reconstruction_grid, sampler_summary, with_method
from .tasks import run_job


class ExportDialog(QDialog):
    def __init__(self, n: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export sample grid")
        form = QFormLayout(self)
        cols = max(1, int(np.ceil(np.sqrt(n))))
        self.rows = QSpinBox()
        self.rows.setRange(1, 100)
        self.rows.setValue(max(1, int(np.ceil(n / cols))))
        self.cols = QSpinBox()
        self.cols.setRange(1, 100)
        self.cols.setValue(cols)
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(4)
        self.labels = QCheckBox("label each sample with its energy")
        self.title = QCheckBox("title with model and sampler settings")
        self.title.setChecked(True)
        form.addRow("Rows", self.rows)
        form.addRow("Columns", self.cols)
        form.addRow("Pixel scale", self.scale)
        form.addRow(self.labels)
        form.addRow(self.title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class SamplesPanel(QWidget):
    message = Signal(str)
    error = Signal(str)

    def __init__(self, controller: StudioController | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller or StudioController()
        self.model = None
        self.cfg = None
        self._busy = False
        self._evaluate_next = False
        self.fresh_model_hook = None  # callable -> True if a fresh model copy will arrive via generate_with
        self._training = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._build_caption_row())
        self.grid = ImageGrid(cols=8)
        self.grid.setMinimumSize(120, 120)
        layout.addWidget(self.grid, 1)
        layout.addLayout(self._build_buttons())
        self.report = QLabel("")  # figures on short explicit lines that fit the dock
        self.report.setStyleSheet("font-family: monospace; color: #333;")
        self.report.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.report)
        self.controller.samples_changed.connect(self._render_samples)
        self.controller.evaluation_changed.connect(self._render_evaluation)
        self._update_buttons()

    def _build_caption_row(self) -> QHBoxLayout:
        top = QHBoxLayout()
        self.caption = QLabel("Generate draws samples from the model shown.")
        self.caption.setWordWrap(True)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.live = QCheckBox("live")
        self.live.setChecked(True)
        self.live.setToolTip("Follow the training run's live view as it changes (uncheck to freeze the view)")
        top.addWidget(self.caption, 1)
        top.addWidget(self.live)
        return top

    def _build_buttons(self) -> QGridLayout:
        grid = QGridLayout()
        self.n = NumberField("samples", 64, 1, 1024, integer=True, tooltip="How many samples to draw")
        self.steps = NumberField("steps", 200, 0, 100_000, integer=True,
                                 tooltip="Sampler steps from uniform noise (the model's own chain length by default)")
        self.method = QComboBox()
        for key, name in METHOD_NAMES.items():
            self.method.addItem(name, key)
        self.method.setMinimumContentsLength(10)  # long names must not widen the dock (the popup shows them whole)
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method.setToolTip("How Generate and Evaluate draw a sample from noise (noise-conditional models): the "
                               "fast predictor-corrector chain (Langevin corrector steps at large noise only, about "
                               "110 evaluations);\nthe reference chain down all 300 training levels (about 600); or "
                               "an ODE solver (Heun, DPM-Solver++, Euler: a few dozen, blurrier) or Euler ancestral. "
                               "steps: the sampler's steps")
        self.method.currentIndexChanged.connect(self._method_changed)
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setToolTip("Draw fresh samples from uniform noise with the model's own sampler")
        self.generate_btn.clicked.connect(lambda: self.generate())
        self.export_btn = QPushButton("Export grid…")
        self.export_btn.clicked.connect(self.export_dialog)
        self.eval_btn = QPushButton("Evaluate")
        self.eval_btn.setToolTip("Quality meter (classifier-FID, confidence, digit coverage, memorisation) of "
                                 "samples drawn by the model's own sampler: the ones shown if they are, else "
                                 "fresh ones")
        self.eval_btn.clicked.connect(lambda: self.evaluate())
        self.recon_btn = QPushButton("Reconstruct")
        self.recon_btn.setToolTip("Boltzmann machines: 8 MNIST-test digits (row 1), their reconstructions v → h → v′ "
                                  "(row 2), the same digits with 15 % of pixels flipped (row 3) and denoised (row 4)")
        self.recon_btn.clicked.connect(lambda: self.reconstruct())
        row = QHBoxLayout()
        for w in (QLabel("N"), self.n, QLabel("steps"), self.steps):
            row.addWidget(w)
        grid.addLayout(row, 0, 0, 1, 2)
        method_row = QHBoxLayout()
        method_row.addWidget(QLabel("sampler"))
        method_row.addWidget(self.method, 1)
        grid.addLayout(method_row, 1, 0, 1, 2)
        grid.addWidget(self.generate_btn, 2, 0)
        grid.addWidget(self.eval_btn, 2, 1)
        grid.addWidget(self.recon_btn, 3, 0)
        grid.addWidget(self.export_btn, 3, 1)
        return grid

    def chosen_config(self, cfg=None):
        """The config Generate and Evaluate draw with: the model's, with the sampler chosen here."""
        cfg = self.cfg if cfg is None else cfg
        return with_method(cfg, self.method.currentData() if self.method.isEnabled() else None)

    def _method_changed(self) -> None:
        cfg = self.chosen_config()
        if cfg is not None:
            self.steps.set_value(min(cfg.sampler.total_steps(), 100_000))  # that sampler's own length

    # --- rendering the controller's state --------------------------------------------------------
    @property
    def samples(self) -> np.ndarray:
        return self.controller.samples.images

    @property
    def source(self) -> str:
        return self.controller.samples.caption

    def _render_samples(self, s: SampleSet) -> None:
        self.caption.setText(s.caption or "Generate draws samples from the model shown.")
        self.caption.setToolTip(s.caption)
        self.grid.set_images(s.images, cols=8 if s.kind != "shipped" else 10)
        self._update_buttons()

    def _render_evaluation(self, report) -> None:
        if report is None:
            self.report.setText("")
            self.report.setToolTip("")
            return
        self.report.setText(f"n={report.n}   classifier-FID {report.fid:.1f}\nconfidence {report.confidence:.3f}   "
                            f"coverage {report.coverage_bits:.2f}/3.32 bits\nnn-dist {report.nn_distance:.2f}   "
                            f"unsure {report.unsure:.0%}")
        self.report.setToolTip(str(report))

    def set_training_active(self, active: bool) -> None:
        self._training = active
        if active:
            self.live.setChecked(True)
        self._update_buttons()

    def set_model(self, model, cfg) -> None:
        """A CPU copy of the model to sample from (never the one being trained) and its config."""
        old = self.cfg
        self.model, self.cfg = model, cfg
        self._adopt_sampler(old, cfg)
        self._update_buttons()

    def _adopt_sampler(self, old, cfg) -> None:
        """Show the sampler choices and chain length of ``cfg``'s model (``old``: the config shown before)."""
        offered = family(cfg.model.family).methods if cfg is not None and cfg.sampler.schedule == "ancestral" else ()
        for i in range(self.method.count()):  # only the methods the model's sampler takes
            self.method.model().item(i).setEnabled(self.method.itemData(i) in offered)
        if offered and (old is None or old.sampler.method != cfg.sampler.method):
            self.method.blockSignals(True)
            self.method.setCurrentIndex(max(0, self.method.findData(cfg.sampler.method)))
            self.method.blockSignals(False)
        self.method.setEnabled(bool(offered))
        if cfg is not None and (old is None or old.model.family != cfg.model.family
                                or old.sampler.total_steps() != cfg.sampler.total_steps()):
            self.steps.set_value(min(self.chosen_config().sampler.total_steps(), 100_000))  # its own chain length

    def show_negatives(self, images: np.ndarray, cfg=None) -> None:
        if not self.live.isChecked():
            return
        caption = f"{live_caption(cfg if cfg is not None else self.cfg)}  ({len(images)})"
        self.controller.show_samples(SampleSet(images, caption, "live"))

    def show_samples(self, images: np.ndarray, caption: str, kind: str = "model", steps: int | None = None) -> None:
        self.controller.show_samples(SampleSet(images, caption, kind, steps))

    def _update_buttons(self) -> None:
        can = self.model is not None or self._training
        self.generate_btn.setEnabled(can and not self._busy)
        self.export_btn.setEnabled(len(self.samples) > 0)
        self.eval_btn.setEnabled(not self._busy and (self.controller.samples.from_model or can))
        boltzmann = self.cfg is not None and family(self.cfg.model.family).ais and self.model is not None
        self.recon_btn.setVisible(boltzmann)
        self.recon_btn.setEnabled(boltzmann and not self._busy)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _job(self, name: str, fn, on_done, *args):
        record = self.controller.jobs.begin(name)
        self._set_busy(True)

        def end():
            self.controller.jobs.end(record)

        return run_job(fn, on_done, self._failed, *args, record=record, on_cancelled=self._cancelled, on_end=end)

    # --- jobs ------------------------------------------------------------------------------------
    def reconstruct(self, seed: int | None = None) -> None:
        """Reconstructions and 15 %-flip denoising of test digits by the Boltzmann machine shown."""
        if self.model is None or self.cfg is None or not family(self.cfg.model.family).ais:
            self.error.emit("reconstructions are for Boltzmann machines")
            return
        self.live.setChecked(False)
        rng_seed = int(np.random.default_rng().integers(0, 2**31)) if seed is None else seed
        self._job("reconstruct", reconstruction_grid, self._reconstructed, self.model, rng_seed)

    def _reconstructed(self, result) -> None:
        images, figures = result
        self._set_busy(False)
        self.show_samples(images, "rows: test digits · reconstructions · 15 % pixels flipped · denoised",
                          kind="reconstruction")
        self.report.setText("\n".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in figures.items()))
        self.message.emit("reconstructions ready")

    def generate(self) -> None:
        """Fresh samples from noise; during training from a copy of the weights taken between two steps."""
        n, steps = self.n.value(), self.steps.value()
        if n is None or steps is None:
            self.error.emit("cannot generate: N and steps must be valid whole numbers")
            return
        self.live.setChecked(False)  # keep the result on screen instead of the live view
        if self.fresh_model_hook is not None and self.fresh_model_hook():
            self._set_busy(True)
            self.message.emit("taking a copy of the model between two training steps…")
            return
        self.generate_with(self.model, self.cfg)

    def generate_with(self, model, cfg, label: str = "") -> None:
        if model is not None and cfg is not None:  # a training run's copy: its own sampler, not the one shown before
            old = self.cfg
            self.model, self.cfg = model, cfg
            self._adopt_sampler(old, cfg)
        n, steps = self.n.value(), self.steps.value()
        if model is None or n is None or steps is None:
            self._set_busy(False)
            self._evaluate_next = False
            self.error.emit("cannot generate: no model loaded yet (open one or train)")
            return
        cfg = self.chosen_config(cfg)
        how = METHOD_NAMES[cfg.sampler.method] + ", " if cfg.sampler.schedule == "ancestral" else ""
        self.message.emit(f"generating {n} samples ({how}{steps} steps)…")
        seed = int(np.random.default_rng().integers(0, 2**31))
        self._job(f"generating {n} samples", generate_samples,
                  lambda arr: self._generated(arr, f"{how}{steps} steps", steps, label), model, cfg, n, steps, seed)

    def _generated(self, arr: np.ndarray, how: str, steps: int, label: str = "") -> None:
        self._set_busy(False)
        self.show_samples(arr, f"{len(arr)} samples from uniform noise, {how}{label}", "model", steps)
        self.message.emit("samples ready")
        if self._evaluate_next:
            self._evaluate_next = False
            self.evaluate()

    def _failed(self, msg: str) -> None:
        self._evaluate_next = False
        self._set_busy(False)
        self.error.emit(msg)

    def _cancelled(self) -> None:
        self._evaluate_next = False
        self._set_busy(False)
        self.message.emit("cancelled")

    def evaluate(self) -> None:
        """Score the model's own samples: those shown if they are the model's, else fresh ones first."""
        if not self.controller.samples.from_model:
            self._evaluate_next = True
            self.message.emit("the view does not show the model's own samples: drawing them first")
            self.generate()
            return
        from ..core.quality import load_meter

        samples = self.samples.copy()
        self.message.emit("evaluating samples with the quality meter…")
        shown = self.controller.samples

        def score(job=None):  # the meter's step generator: a real progress bar, Cancel between two chunks
            return job.drive(load_meter().evaluate_steps(samples))

        self._job("evaluating", score, lambda report: self._evaluated(report, shown))

    def _evaluated(self, report, scored: SampleSet) -> None:
        self._set_busy(False)
        if self.controller.samples is scored:  # the samples are still the ones scored
            self.controller.set_evaluation(report)
        self.message.emit("evaluation done")

    def export(self, path: str, rows: int, cols: int, scale: int = 4, labels: bool = False,
               title: bool = True) -> tuple[int, int]:
        images = self.samples[: rows * cols]
        lab = None
        if labels and self.model is not None:
            from ..core.families import energy_of

            e = energy_of(self.model, torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)).numpy()
            lab = [f"{v:.2f}" for v in e]
        size = save_grid_png(path, images, rows, cols, scale=scale, labels=lab,
                             title=self.export_title() if title else None)
        self.message.emit(f"exported {path} ({size[0]}x{size[1]} px)")
        return size

    def export_title(self) -> str | None:
        """The exported grid's title, in ASCII: model, what the images are, and the sampler as run."""
        if self.cfg is None:
            return None
        s = self.controller.samples
        what = s.caption.split(",")[0] if s.caption else "samples"
        return f"{self.cfg.model.family} | {what} | {sampler_summary(self.chosen_config(), s.steps)}".encode(
            "ascii", "replace").decode("ascii")

    def export_dialog(self) -> None:
        if not len(self.samples):
            return
        dlg = ExportDialog(len(self.samples), self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export sample grid", "samples.png", "PNG (*.png)")
        if path:
            try:
                self.export(path, dlg.rows.value(), dlg.cols.value(), dlg.scale.value(), dlg.labels.isChecked(),
                            dlg.title.isChecked())
            except Exception as exc:  # disk full, permissions…
                self.error.emit(f"could not export: {exc}")
