"""The Samples panel: live negatives during training, fresh samples from noise, export, evaluation."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.export import save_grid_png
from ..core.families import family
from .fields import NumberField
from .image_grid import ImageGrid
from .tasks import run_job


def generate_samples(model, cfg, n: int, steps: int, seed: int) -> np.ndarray:
    """Fresh samples from uniform noise with the model's own sampler (runs in a worker thread)."""
    from ..core.families import sample_chain

    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand((n, 1, 28, 28), generator=g)
    last = None
    for last in sample_chain(model, cfg, x0, steps=steps, generator=g):
        pass
    return last.x[:, 0].detach().float().cpu().numpy().copy()


def reconstruction_grid(model, seed: int, n: int = 8):
    """(4n, 28, 28) rows of originals, reconstructions, flipped and denoised test digits, and the
    per-pixel error rates on these digits (a worker-thread job; the model is a CPU copy)."""
    import torch

    from ..core.boltzmann.analysis import flip_pixels, reconstruct, reconstruction_figures
    from ..core.data import load_mnist

    g = torch.Generator().manual_seed(seed)
    test = load_mnist("test").images
    idx = torch.randperm(len(test), generator=g)[:n]
    v = (test[idx] > 0.5).float()
    noisy = flip_pixels(v, 0.15, g)
    rows = [v, reconstruct(model, v), noisy, reconstruct(model, noisy)]
    images = torch.cat([r.reshape(n, 28, 28) for r in rows]).numpy().astype(np.float32)
    figures = reconstruction_figures(model, v.reshape(n, -1), flip=0.15, seed=seed)
    return images, figures


def live_caption(cfg) -> str:
    """What the live gallery shows during training, in the words of the objective being trained."""
    if cfg is None:
        return "Live samples from the training run"
    t, s = cfg.train, cfg.sampler
    start = {"buffer": "replay-buffer chains", "data": "chains started at the data batch",
             "noise": "chains started from noise"}[t.negatives]
    if not family(cfg.model.family).has_chain:
        return f"Live samples from the latent prior (temperature {s.temperature:g})"
    if family(cfg.model.family).gibbs:
        return f"Live fantasy particles: {start} after {s.steps} Gibbs sweep(s) (visible means)"
    if t.objective == "dsm":
        return "Live: noised training digits, denoised in one step by the model (Tweedie)"
    return f"Live negative samples: {start} after {s.steps} Langevin steps"


def sampler_summary(cfg) -> str:
    s = cfg.sampler
    if not family(cfg.model.family).has_chain:
        return f"one pass from the latent prior, temperature {s.temperature:g}"
    if family(cfg.model.family).gibbs:
        return "Gibbs sampling"
    if s.schedule == "ancestral":
        return f"ancestral sampling σ {s.sigma_max:g}→{s.sigma_min:g}, {s.levels * s.steps_per_level} steps"
    if s.schedule == "annealed":
        return f"annealed Langevin σ {s.sigma_max:g}→{s.sigma_min:g}, {s.levels}×{s.steps_per_level} steps, ε {s.eps:g}"
    return f"Langevin step size {s.step_size:g}, noise {s.noise:g}"


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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = None
        self.cfg = None
        self.samples = np.zeros((0, 28, 28), np.float32)
        self.source = "none"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.caption = QLabel("Live samples appear here during training; Generate draws fresh ones.")
        self.caption.setWordWrap(True)
        self.live = QCheckBox("live")
        self.live.setChecked(True)
        self.live.setToolTip("Follow the training run's samples as they change (uncheck to freeze the view)")
        top.addWidget(self.caption, 1)
        top.addWidget(self.live)
        layout.addLayout(top)
        self.grid = ImageGrid(cols=8)
        layout.addWidget(self.grid, 1)
        row = QHBoxLayout()
        self.n = NumberField("samples", 64, 1, 1024, integer=True, tooltip="How many samples to draw")
        self.steps = NumberField("steps", 200, 0, 100_000, integer=True, tooltip="Sampler steps from uniform noise")
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setToolTip("Draw fresh samples from uniform noise with the current model")
        self.generate_btn.clicked.connect(self.generate)
        self.export_btn = QPushButton("Export grid…")
        self.export_btn.clicked.connect(self.export_dialog)
        self.eval_btn = QPushButton("Evaluate")
        self.eval_btn.setToolTip("Quality meter: classifier-FID, confidence, digit coverage, memorisation")
        self.eval_btn.clicked.connect(self.evaluate)
        self.recon_btn = QPushButton("Reconstruct / denoise")
        self.recon_btn.setToolTip("Boltzmann machines: 8 MNIST-test digits (row 1), their reconstructions v → h → v′ "
                                  "(row 2), the same digits with 15 % of pixels flipped (row 3) and denoised (row 4)")
        self.recon_btn.clicked.connect(self.reconstruct)
        row.addWidget(QLabel("N"))
        row.addWidget(self.n)
        row.addWidget(QLabel("steps"))
        row.addWidget(self.steps)
        row.addWidget(self.generate_btn)
        row.addStretch(1)
        row.addWidget(self.recon_btn)
        row.addWidget(self.eval_btn)
        row.addWidget(self.export_btn)
        layout.addLayout(row)
        self.report = QLabel("")  # figures on explicit short lines that fit the dock, not word-wrapped
        self.report.setStyleSheet("font-family: monospace; color: #333;")
        layout.addWidget(self.report)
        self._busy = False
        self.fresh_model_hook = None  # callable -> True if a fresh model copy will arrive via generate_with
        self._training = False
        self._update_buttons()

    def set_training_active(self, active: bool) -> None:
        self._training = active
        if active:
            self.live.setChecked(True)
        self._update_buttons()

    def set_model(self, model, cfg) -> None:
        """A CPU copy of the model to sample from (never the one being trained) and its config."""
        old = self.cfg
        self.model, self.cfg = model, cfg
        if cfg is not None and (old is None or old.model.family != cfg.model.family
                                or old.sampler.schedule != cfg.sampler.schedule):
            self.steps.set_value(min(cfg.sampler.total_steps(), 100_000))  # the model's own chain length
        self._update_buttons()

    def show_negatives(self, images: np.ndarray, cfg=None) -> None:
        if not self.live.isChecked():
            return
        self.samples = images
        self.source = "live samples"
        self.caption.setText(f"{live_caption(cfg if cfg is not None else self.cfg)}  ({len(images)})")
        self.grid.set_images(images)
        self._update_buttons()

    def show_samples(self, images: np.ndarray, caption: str) -> None:
        self.samples = images
        self.source = caption
        self.caption.setText(caption)
        self.grid.set_images(images)
        self._update_buttons()

    def _update_buttons(self) -> None:
        can = self.model is not None or self._training
        self.generate_btn.setEnabled(can and not self._busy)
        self.export_btn.setEnabled(len(self.samples) > 0)
        self.eval_btn.setEnabled(len(self.samples) >= 2 and not self._busy)
        boltzmann = self.cfg is not None and family(self.cfg.model.family).ais and self.model is not None
        self.recon_btn.setVisible(boltzmann)
        self.recon_btn.setEnabled(boltzmann and not self._busy)

    def reconstruct(self, seed: int | None = None) -> None:
        """Reconstructions and 15 %-flip denoising of test digits by the Boltzmann machine shown."""
        if self.model is None or self.cfg is None or not family(self.cfg.model.family).ais:
            self.error.emit("reconstructions are for Boltzmann machines")
            return
        self.live.setChecked(False)
        rng_seed = int(np.random.default_rng().integers(0, 2**31)) if seed is None else seed
        self._busy = True
        self._update_buttons()
        run_job(reconstruction_grid, self._reconstructed, self._failed, self.model, rng_seed)

    def _reconstructed(self, result) -> None:
        images, figures = result
        self._busy = False
        self.grid.cols = 8
        self.show_samples(images, "rows: test digits · reconstructions · 15 % pixels flipped · denoised")
        self.report.setText("\n".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in figures.items()))
        self.message.emit("reconstructions ready")

    def generate(self) -> None:
        """Fresh samples from noise; during training from a copy of the weights taken between two steps."""
        n, steps = self.n.value(), self.steps.value()
        if n is None or steps is None:
            self.error.emit("cannot generate: N and steps must be valid whole numbers")
            return
        self.live.setChecked(False)  # keep the result on screen instead of the live stream
        if self.fresh_model_hook is not None and self.fresh_model_hook():
            self._busy = True
            self._update_buttons()
            self.message.emit("taking a copy of the model between two training steps…")
            return
        self.generate_with(self.model, self.cfg)

    def generate_with(self, model, cfg, label: str = "") -> None:
        n, steps = self.n.value(), self.steps.value()
        if model is None or n is None or steps is None:
            self._busy = False
            self._update_buttons()
            self.error.emit("cannot generate: no model loaded yet (open one or train)")
            return
        self.model, self.cfg = model, cfg
        self._busy = True
        self._update_buttons()
        self.message.emit(f"generating {n} samples with {steps} steps…")
        seed = int(np.random.default_rng().integers(0, 2**31))
        run_job(generate_samples, lambda arr: self._generated(arr, steps, label), self._failed, model, cfg, n, steps,
                seed)

    def _generated(self, arr: np.ndarray, steps: int, label: str = "") -> None:
        self._busy = False
        self.show_samples(arr, f"{len(arr)} samples from uniform noise, {steps} steps{label}")
        self.message.emit("samples ready")

    def _failed(self, msg: str) -> None:
        self._busy = False
        self._update_buttons()
        self.error.emit(msg)

    def evaluate(self) -> None:
        try:
            from ..core.quality import load_meter
        except ImportError:
            self.error.emit("the quality meter is not available in this build")
            return
        samples = self.samples.copy()
        self._busy = True
        self._update_buttons()
        self.message.emit("evaluating samples with the quality meter…")
        run_job(lambda: load_meter().evaluate(samples), self._evaluated, self._failed)

    def _evaluated(self, report) -> None:
        self._busy = False
        self._update_buttons()
        self.report.setText(f"n={report.n}   classifier-FID {report.fid:.1f}   confidence {report.confidence:.3f}\n"
                            f"coverage {report.coverage_bits:.2f}/3.32 bits   nn-dist {report.nn_distance:.2f}   "
                            f"unsure {report.unsure:.0%}")
        self.report.setToolTip(str(report))
        self.message.emit("evaluation done")

    def export(self, path: str, rows: int, cols: int, scale: int = 4, labels: bool = False, title: bool = True) -> tuple[int, int]:
        images = self.samples[: rows * cols]
        lab = None
        if labels and self.model is not None:
            from ..core.families import energy_of

            e = energy_of(self.model, torch.from_numpy(images).unsqueeze(1)).numpy()
            lab = [f"{v:.2f}" for v in e]
        ttl = None
        if title and self.cfg is not None:
            ttl = f"{self.cfg.model.family} | {self.source} | {sampler_summary(self.cfg)}"
        size = save_grid_png(path, images, rows, cols, scale=scale, labels=lab, title=ttl)
        self.message.emit(f"exported {path} ({size[0]}x{size[1]} px)")
        return size

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
