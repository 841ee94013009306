"""The Langevin canvas: draw or load a seed image and watch it descend the energy.

Playback runs in small time slices on the GUI thread (a QTimer; one sampler step of a few
chains of the small energy net costs a few milliseconds, and each tick stops after ~15 ms), so
the window never freezes. The model is a CPU snapshot handed over by the main window, never the
live model a training worker is updating.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...controller.family_view import family_traits
from ...core.errors import EbmStudioError
from ...core.export import save_gif, save_strip_png
from ...core.playback import ChainPlayer, PlaybackSettings
from ..fields import NumberField
from ..image_grid import ImageGrid
from .draw_surface import DrawSurface

TICK_BUDGET_S = 0.015
TICK_INTERVAL_MS = 10
MAX_TICK_INTERVAL_MS = 250
STRIP_COLS = 12
NOISY_MNIST_SIGMA = 0.35
WIDE_LAYOUT_PX = 900
NARROW_SURFACE_PX = 240  # from this width on, the plot and chain views sit beside the drawing
MODES = {
    "free": "Free: the whole image moves",
    "inpaint": "Inpaint: drawn pixels stay clamped",
}


def strip_indices(n: int, cols: int) -> np.ndarray:
    """At most ``cols`` frame indices spread evenly over ``n`` frames, always the first and the last."""
    if n <= cols:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, cols)).astype(int))


class CanvasPanel(QWidget):
    message = Signal(str)
    error = Signal(str)
    example_added = Signal(object)  # (28, 28) float32 drawing offered as a few-shot training example

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = None
        self.cfg = None
        self.player: ChainPlayer | None = None
        self.training_active = False
        self.last_error = ""
        self._owed = 0.0
        self._last_tick = time.monotonic()
        self._last_draw = 0.0
        self.guide = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Space plays / pauses, Right steps
        self.root = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)  # narrow first: see resizeEvent
        left = QVBoxLayout()
        left.addWidget(self._build_surface(), 1)
        left.addLayout(self._build_tools())
        left.addWidget(self._build_playback())
        self.views = QWidget()
        right = QVBoxLayout(self.views)
        right.setContentsMargins(0, 0, 0, 0)
        self._build_views(right)
        self.root.addLayout(left, 3)
        self.root.addWidget(self.views, 4)
        self.views.setMinimumHeight(460)
        self.surface.setMaximumHeight(NARROW_SURFACE_PX)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self._update_speed_label()
        self._update_buttons()

    # --- building ----------------------------------------------------------------------------------
    def _build_surface(self) -> QWidget:
        self.surface = DrawSurface()
        self.surface.changed.connect(self._drawing_changed)
        self.surface.file_dropped.connect(self.load_image)
        self.surface.locked_click.connect(lambda: self.message.emit(
            "the canvas shows the chain: press Reset to seed to edit your drawing, or Keep as seed to draw on "
            "the result"))
        return self.surface

    def _build_tools(self) -> QVBoxLayout:
        col = QVBoxLayout()
        self.energy_label = QLabel("energy: –")
        self.energy_label.setWordWrap(True)
        self.energy_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.energy_label.setToolTip("Energy of the image shown, at the noise level stated (the same number as the "
                                     "red curve of the energy plot), and its rank among real MNIST-test digits "
                                     "noised to the same level (higher = more digit-like; a blank image ranks 0)")
        col.addWidget(self.energy_label)
        tools = QGridLayout()
        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(5, 40)
        self.brush.setValue(13)
        self.brush.valueChanged.connect(lambda v: setattr(self.surface, "brush_radius", v / 10.0))
        self.softness = QSlider(Qt.Orientation.Horizontal)
        self.softness.setRange(0, 100)
        self.softness.setValue(50)
        self.softness.valueChanged.connect(lambda v: setattr(self.surface, "softness", v / 100.0))
        self.eraser = QCheckBox("Eraser")
        self.eraser.toggled.connect(lambda on: setattr(self.surface, "eraser", on))
        tools.addWidget(QLabel("Brush"), 0, 0)
        tools.addWidget(self.brush, 0, 1)
        tools.addWidget(QLabel("Soft"), 0, 2)
        tools.addWidget(self.softness, 0, 3)
        tools.addWidget(self.eraser, 0, 4)
        buttons = [("Undo", self.undo, "Ctrl+Z"), ("Redo", self.redo, "Ctrl+Shift+Z"), ("Clear", self.clear, None),
                   ("Invert", self.surface.invert, None)]
        for i, (text, slot, sc) in enumerate(buttons):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, slot=slot: slot())
            if sc:
                b.setShortcut(sc)
            tools.addWidget(b, 1, i)
        col.addLayout(tools)
        seeds = QGridLayout()
        for i, (text, slot, tip) in enumerate([
                ("Load image…", self.load_image_dialog, "PNG/JPEG/BMP of any size; also drag and drop"),
                ("Noise", self.seed_noise, "Uniform noise"),
                ("MNIST", self.seed_mnist, "A random MNIST test digit"),
                ("Noisy MNIST", self.seed_noisy_mnist,
                 "A test digit with Gaussian noise (σ = 0.35): watch it denoise")]):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, slot=slot: slot())  # clicked(bool) must not reach the slot's arguments
            seeds.addWidget(b, i // 2, i % 2)
        col.addLayout(seeds)
        self.example_btn = QPushButton("Add drawing to training examples")
        self.example_btn.setToolTip("Few-shot learning: keep this drawing as a training image. The Training "
                                    "panel's dataset becomes your drawings (saved as PNGs); choose 'Fine-tune the "
                                    "model shown' there to fine-tune the current model on them")
        self.example_btn.clicked.connect(lambda: self.add_example())
        col.addWidget(self.example_btn)
        return col

    def _build_playback(self) -> QGroupBox:
        box = QGroupBox("Langevin playback")
        grid = QGridLayout(box)
        self.play_btn = QPushButton("▶ Play")
        self.play_btn.clicked.connect(lambda: self.toggle_play())
        self.step_btn = QPushButton("Step")
        self.step_btn.clicked.connect(lambda: self.step())
        self.reset_btn = QPushButton("Reset to seed")
        self.reset_btn.setToolTip("Forget the chain and show your drawing again (it stays editable)")
        self.reset_btn.clicked.connect(lambda: self.reset_chain())
        self.keep_btn = QPushButton("Keep as seed")
        self.keep_btn.setToolTip("Make chain 1's current image the new drawing: edit it, or run on from there")
        self.keep_btn.clicked.connect(lambda: self.keep_as_seed())
        for i, b in enumerate((self.play_btn, self.step_btn, self.reset_btn, self.keep_btn)):
            grid.addWidget(b, i // 2, i % 2 * 2, 1, 2)
        self.mode = QComboBox()
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.mode.setToolTip("Inpainting clamps the pixels you drew (shaded orange) to their values and samples "
                             "the rest. To have the model complete your strokes into a digit, anneal from a large "
                             "noise level (σ ≈ 1); at a small σ (0.2) it only cleans up around them")
        grid.addWidget(self.mode, 2, 0, 1, 4)
        self._build_playback_fields(grid)
        self.progress = QProgressBar()
        self.progress.setRange(0, 200)
        self.progress.setValue(0)
        self.progress.setFormat("step %v / %m")
        self.progress.setToolTip("Sampler steps taken by the chains so far, out of the total")
        grid.addWidget(self.progress, 9, 0, 1, 4)
        self.training_note = QLabel("Training is running: the canvas uses the model as of the last pause or step.")
        self.training_note.setWordWrap(True)
        self.training_note.setStyleSheet("color: #a15c00")
        self.training_note.hide()
        grid.addWidget(self.training_note, 10, 0, 1, 4)
        return box

    def _build_playback_fields(self, grid: QGridLayout) -> None:
        self.speed = QSlider(Qt.Orientation.Horizontal)
        self.speed.setRange(0, 100)
        self.speed.setValue(60)
        self.speed.setToolTip("Steps per second, from slow motion (1/s) to as fast as the CPU allows")
        self.speed.valueChanged.connect(self._update_speed_label)
        self.speed_label = QLabel("")
        grid.addWidget(QLabel("Speed"), 3, 0)
        grid.addWidget(self.speed, 3, 1, 1, 2)
        grid.addWidget(self.speed_label, 3, 3)
        self.step_size = NumberField(
            "step size", 10.0, 0, 1e6,
            tooltip="How far each step moves the image downhill: x ← x − step·∇E(x) + noise·ξ, with ξ ~ N(0, 1) "
                    "per pixel (the gradient is clipped first if the model says so). Too small: nothing happens; "
                    "too large: the image overshoots and saturates.")
        self.noise = NumberField(
            "noise", 0.005, 0, 10,
            tooltip="Standard deviation of the random kick ξ added every step. Exact Langevin sampling of "
                    "p(x) ∝ exp(−E(x)) needs noise = √(2·step); 0 turns the chain into plain gradient descent "
                    "on the energy, which finds the nearest valley instead of exploring.")
        self.total = NumberField("total steps", 200, 1, 1_000_000, integer=True,
                                 tooltip="The chain stops after this many steps (Play again to restart it)")
        for f in (self.step_size, self.noise, self.total):  # anneal_from is connected below
            f.value_edited.connect(self._apply_settings)
            f.validity_changed.connect(lambda *_: self._update_buttons())
        self.total.value_edited.connect(self._total_changed)
        grid.addWidget(QLabel("Step size"), 4, 0)
        grid.addWidget(self.step_size, 4, 1)
        grid.addWidget(QLabel("Noise"), 4, 2)
        grid.addWidget(self.noise, 4, 3)
        grid.addWidget(QLabel("Total steps"), 5, 0)
        grid.addWidget(self.total, 5, 1)
        self.chains = QSpinBox()
        self.chains.setRange(1, 16)
        self.chains.setValue(8)
        self.chains.setToolTip("Chains started from the same image with different noise, to see the spread")
        grid.addWidget(QLabel("Chains"), 5, 2)
        grid.addWidget(self.chains, 5, 3)
        self.anneal = QCheckBox("Anneal from σ =")
        self.anneal.setToolTip("For noise-conditional energies: start at a large noise level (coarse shapes) and "
                               "cool down to the finest level (sharp strokes), as when sampling from noise")
        self.anneal_from = NumberField("anneal from sigma", 0.2, 0, 100, open_low=True,
                                       tooltip="Noise level to start from: about 1.0 forgets the drawing and "
                                               "dreams up a "
                                               "new digit; 0.1-0.2 keeps its shape and cleans it up")
        self.anneal.toggled.connect(self._anneal_toggled)
        self.anneal_from.value_edited.connect(self._apply_settings)
        grid.addWidget(self.anneal, 6, 0, 1, 2)
        grid.addWidget(self.anneal_from, 6, 2, 1, 2)
        self.steer = QComboBox()
        self.steer.addItem("Free (no steering)", None)
        for d in range(10):
            self.steer.addItem(f"Steer toward a {d}", d)
        self.steer.setToolTip("Class-conditional sampling: follow E(x) - w·log p(digit | x), with the run's "
                              "class guide "
                              "(a classifier of noised images; train one with 'ebm-studio guide RUN')")
        self.steer_weight = NumberField("guidance weight", 2.0, 0, 100, tooltip="w: 1 = Bayes' rule; larger = "
                                        "more decidedly that digit, less varied")
        self.steer.currentIndexChanged.connect(self._steer_changed)
        self.steer_weight.value_edited.connect(self._steer_changed)
        grid.addWidget(self.steer, 7, 0, 1, 2)
        grid.addWidget(self.steer_weight, 7, 2, 1, 2)
        self.steer.setEnabled(False)
        self.steer_weight.setEnabled(False)

    def _build_views(self, right: QVBoxLayout) -> None:
        """The energy trace, the chains and chain 1's gradient, and the film strip."""
        self.plot = pg.PlotWidget(background="w")
        self.plot.setTitle("<span style='color:#222'>Energy along the chain</span>", size="10pt")
        self.plot.setToolTip("Energy of each chain's image after every step, at that step's noise level (the label "
                             "under the drawing states it). Annealing first adds noise (the energy jumps up), then "
                             "cools down: the image descends into a valley.")
        self.plot.setLabel("bottom", "Langevin step")
        self.plot.setLabel("left", "E(x) at the step's σ")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMinimumSize(240, 180)
        self.plot.addLegend(offset=(-10, 10), brush=(255, 255, 255, 210), pen=(200, 200, 200), labelTextColor="#222")
        self.lo_curve, self.hi_curve = pg.PlotDataItem([], []), pg.PlotDataItem([], [])
        self.band = pg.FillBetweenItem(self.lo_curve, self.hi_curve, brush=(31, 119, 180, 50))
        self.plot.addItem(self.band)
        self.mean_curve = self.plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="mean of chains")
        self.first_curve = self.plot.plot(pen=pg.mkPen("#d62728", width=1), name="chain 1 (shown)")
        right.addWidget(self.plot, 3)
        row = QHBoxLayout()
        self.chain_grid = ImageGrid(cols=4)
        self.chain_grid.setMinimumSize(120, 120)
        self.chain_grid.placeholder = "press Play or Step"
        self.grad_view = pg.ImageView()
        self.grad_view.ui.histogram.hide()
        self.grad_view.ui.roiBtn.hide()
        self.grad_view.ui.menuBtn.hide()
        self.grad_view.setColorMap(pg.colormap.get("CET-D1"))
        self.grad_view.setMinimumSize(120, 120)
        col = QVBoxLayout()
        col.addWidget(QLabel("All chains (current state)"))
        col.addWidget(self.chain_grid, 1)
        row.addLayout(col, 1)
        col = QVBoxLayout()
        self.show_grad = QCheckBox("∇E of chain 1")
        self.show_grad.setToolTip("The energy's gradient on chain 1's image: blue where ink will grow, red "
                                  "where it fades")
        self.show_grad.setChecked(True)
        col.addWidget(self.show_grad)
        col.addWidget(self.grad_view, 1)
        row.addLayout(col, 1)
        right.addLayout(row, 2)
        strip_row = QHBoxLayout()
        strip_row.addWidget(QLabel("Film strip, every"))
        self.every = QSpinBox()
        self.every.setRange(1, 1000)
        self.every.setValue(10)
        strip_row.addWidget(self.every)
        strip_row.addWidget(QLabel("steps"))
        strip_row.addStretch(1)
        self.gif_btn = QPushButton("Export GIF…")
        self.gif_btn.clicked.connect(self.export_gif_dialog)
        self.strip_btn = QPushButton("Export strip…")
        self.strip_btn.clicked.connect(self.export_strip_dialog)
        strip_row.addWidget(self.gif_btn)
        strip_row.addWidget(self.strip_btn)
        right.addLayout(strip_row)
        self.strip = ImageGrid(cols=STRIP_COLS)
        self.strip.setToolTip("Chain 1 from the seed (left) to now (right), evenly spaced; exports hold every "
                              "recorded frame of every chain")
        self.strip.setMinimumSize(120, 70)
        self.strip.placeholder = "every k-th state of chain 1 appears here"
        right.addWidget(self.strip, 1)

    # --- reflow and keys ---------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Plot and chain views beside the drawing when there is room, below it otherwise (the
        dock then scrolls vertically instead of hiding the views behind a horizontal scrollbar)."""
        wide = event.size().width() >= WIDE_LAYOUT_PX
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.root.direction() != direction:
            self.root.setDirection(direction)
            self.views.setMinimumHeight(0 if wide else 460)
            self.surface.setMaximumHeight(16777215 if wide else NARROW_SURFACE_PX)  # room for the plot below
        super().resizeEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Space and self.play_btn.isEnabled():
            self.toggle_play()
        elif event.key() == Qt.Key.Key_Right and self.step_btn.isEnabled():
            self.step()
        else:
            super().keyPressEvent(event)

    # --- model --------------------------------------------------------------------------------
    def set_model(self, model, cfg) -> None:
        was_playing = self.timer.isActive()
        self.pause()
        same_sampler = (cfg is not None and self.cfg is not None and cfg.sampler == self.cfg.sampler
                        and cfg.model.family == self.cfg.model.family)
        self.model, self.cfg = model, cfg
        self.player = None
        self.surface.display = None
        self.surface.editable = True
        self.surface.update()
        self._clear_views()
        if cfg is not None and not same_sampler:  # new weights of the same recipe keep the user's settings
            sc = cfg.sampler
            annealed = sc.schedule in ("annealed", "ancestral")  # the canvas anneals by Langevin either way
            if annealed:  # the finest noise level's Langevin step: a = eps, step a / sigma_min, noise sqrt(2a)
                self.step_size.set_value(sc.eps / sc.sigma_min)
                self.noise.set_value((2 * sc.eps) ** 0.5)
                self.total.set_value(sc.total_steps())
            else:
                self.step_size.set_value(sc.step_size)
                self.noise.set_value(sc.noise)
            traits = family_traits(cfg.model.family)
            langevin = traits.langevin
            self.anneal.setEnabled(langevin and annealed)
            self.anneal.setChecked(langevin and annealed)
            self.anneal_from.setEnabled(langevin and annealed)
            self._anneal_toggled(self.anneal.isChecked())
            self.plot.setLabel("bottom", traits.step_word)
            self.progress.setMaximum(max(1, int(self.total.value() or 1)))
        self._update_energy_readout()
        self._update_buttons()
        if was_playing and model is not None:
            self.play()

    def set_guide(self, guide) -> None:
        """The class guide of the model shown (None: steering unavailable)."""
        self.guide = guide
        usable = guide is not None and self.cfg is not None and family_traits(self.cfg.model.family).guidable
        self.steer.setEnabled(usable)
        self.steer_weight.setEnabled(usable)
        if not usable:
            self.steer.setCurrentIndex(0)
        self.steer.setToolTip(self.steer.toolTip().split("\n")[0] + ("" if usable else
                              "\nThis model has no class guide: run 'ebm-studio guide RUN' to train one"))

    def _steer_changed(self, *_) -> None:
        if self.player is not None:  # a different energy: the chain restarts from the current seed
            self.reset_chain()

    def _chain_energy(self):
        digit = self.steer.currentData()
        if digit is None or self.guide is None:
            return self.model
        from ...core.guidance import GuidedEnergy

        weight = self.steer_weight.value()
        return GuidedEnergy(self.model, self.guide, digit, weight if weight is not None else 1.0)

    def set_training_active(self, active: bool) -> None:
        self.training_active = active
        self.training_note.setVisible(active and self.model is not None)

    # --- seeds --------------------------------------------------------------------------------
    def load_image(self, path: str) -> bool:
        from ...core.images import load_digit_image

        try:
            img = load_digit_image(path)
        except EbmStudioError as exc:
            self._error(str(exc))
            return False
        self.surface.set_image(img)
        self.message.emit(f"loaded {path}")
        return True

    def load_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All "
                                              "files (*)")
        if path:
            self.load_image(path)

    def seed_noise(self) -> None:
        self.surface.set_image(np.random.default_rng().random((28, 28)).astype(np.float32))

    def _random_test_digit(self) -> np.ndarray:
        from ...core.data import load_mnist

        test = load_mnist("test")
        return test.images[int(np.random.default_rng().integers(len(test))), 0].numpy()

    def seed_mnist(self) -> None:
        self.surface.set_image(self._random_test_digit())

    def seed_noisy_mnist(self, sigma: float = NOISY_MNIST_SIGMA) -> None:
        x = self._random_test_digit() + sigma * np.random.default_rng().standard_normal((28, 28))
        self.surface.set_image(np.clip(x, 0, 1).astype(np.float32))

    def undo(self) -> None:
        self.pause()
        self.surface.undo()

    def redo(self) -> None:
        self.pause()
        self.surface.redo()

    def clear(self) -> None:
        self.pause()
        self.surface.clear()

    def keep_as_seed(self) -> None:
        """Chain 1's current image becomes the drawing (undoable); clamped pixels stay marked."""
        if self.player is None:
            return
        self.pause()
        self.surface.set_image(self.player.current[0], keep_mask=True)

    def _drawing_changed(self) -> None:
        self.player = None  # a new seed: the next Play starts from it
        self.pause()
        self.surface.editable = True
        self._clear_views()
        self._update_energy_readout()

    def _update_energy_readout(self) -> None:
        self.energy_label.setText(self.energy_readout())

    def energy_readout(self) -> str:
        """The label under the drawing: the energy of what is shown, at the noise level stated, ranked
        among real test digits noised to that level. Mid-chain it is the red curve's last point."""
        if self.model is None:
            return "energy: – (no model loaded: open or train one)"
        from ...core.landscape import energy_at, is_blank, rank_energies

        p = self.player
        showing_chain = self.surface.display is not None and p is not None
        try:
            if showing_chain:
                img, sigma = p.current[0], p.current_sigma
                e = float(p.energies[-1][0])
            else:
                img, sigma = self.surface.image, None
                e = float(energy_at(self.model, torch.from_numpy(np.ascontiguousarray(img)).view(1, 1, 28, 28))[0])
            pct = float(rank_energies(self.model, [e], img[None], sigma)[0])
        except Exception as exc:  # a snapshot of a diverged model, say
            return f"energy: unavailable ({exc.__class__.__name__})"
        what = f"chain 1 at step {p.step_index}" if showing_chain else "drawing"
        level = self._level_text(sigma)
        steered = showing_chain and self.steer.currentData() is not None
        guided = " (steered: includes the guide's term)" if steered else ""
        if bool(is_blank(img[None])[0]):
            return f"{what}: energy {e:+.3f}{level}{guided}  ·  blank: no ink, not ranked as a digit"
        return (f"{what}: energy {e:+.3f}{level}{guided}  ·  more digit-like than {pct:.0f}% of real test digits "
                f"at that σ")

    def _level_text(self, sigma) -> str:
        if self.cfg is None or not family_traits(self.cfg.model.family).langevin:
            return ""
        if sigma is None:
            sigma = float(getattr(self.model, "sigma_default", self.cfg.sampler.sigma_min))
        return f" at σ = {float(sigma):.3g}"

    def _anneal_toggled(self, on: bool) -> None:
        on = on and self.anneal.isEnabled()
        self.anneal_from.setEnabled(on)
        langevin = self.cfg is not None and family_traits(self.cfg.model.family).langevin
        self.step_size.setEnabled(not on and langevin)
        self.noise.setEnabled(not on and langevin)
        self.player = None

    def _mode_changed(self) -> None:
        self.surface.show_mask = self.mode.currentData() == "inpaint"
        self.surface.update()
        self.player = None

    # --- playback -----------------------------------------------------------------------------
    def _settings(self) -> PlaybackSettings | None:
        vals = [self.step_size.value(), self.noise.value(), self.total.value()]
        anneal = self.anneal.isChecked() and self.anneal.isEnabled()
        top = self.anneal_from.value() if anneal else None
        if any(v is None for v in vals) or (anneal and top is None):
            return None
        grad_clip = self.cfg.sampler.grad_clip if self.cfg is not None else 0.03
        return PlaybackSettings(total_steps=int(vals[2]), step_size=vals[0], noise=vals[1], grad_clip=grad_clip,
                                record_every=self.every.value(), anneal_from=top)

    def _ensure_player(self) -> bool:
        if self.model is None:
            self._error("no model loaded: open a checkpoint or train a model first")
            return False
        settings = self._settings()
        if settings is None:
            self._error("fix the playback settings first")
            return False
        if self.player is None:
            mask = self.surface.drawn_mask if self.mode.currentData() == "inpaint" else None
            if mask is not None and not mask.any():
                mask = None
                self.message.emit("inpainting: nothing drawn to clamp, so the whole image moves")
            self.player = ChainPlayer(self._chain_energy(), self.cfg, self.surface.image,
                                      n_chains=self.chains.value(), mask=mask,
                                      seed=int(np.random.default_rng().integers(2**31)), settings=settings)
            self.surface.editable = False
        return True

    def _apply_settings(self) -> None:
        s = self._settings()
        if s is not None and self.player is not None:
            s.record_every = self.player.settings.record_every
            self.player.settings = s

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if not self._ensure_player():
            return
        if self.player.done:
            self.reset_chain()
            if not self._ensure_player():
                return
        self._owed = 0.0
        self._last_tick = time.monotonic()
        self.timer.start()
        self.play_btn.setText("❚❚ Pause")

    def pause(self) -> None:
        self.timer.stop()
        self.play_btn.setText("▶ Play")

    def step(self) -> bool:
        self.pause()
        if not self._ensure_player():
            return False
        advanced = self._advance()
        self._refresh_views()
        return advanced

    def reset_chain(self) -> None:
        self.pause()
        self.player = None
        self.surface.display = None
        self.surface.editable = True
        self.surface.update()
        self._clear_views()
        self._update_energy_readout()

    def _total_changed(self, *_) -> None:
        if self.player is None:
            self.progress.setMaximum(max(1, int(self.total.value() or 1)))

    def _clear_views(self) -> None:
        self.progress.setMaximum(max(1, int(self.total.value() or 1)))  # "step 0 / the total that will run"
        self.progress.setValue(0)
        for c in (self.mean_curve, self.first_curve, self.lo_curve, self.hi_curve):
            c.setData([], [])
        self.band.hide()  # the fill keeps its last path when its curves are emptied
        self.chain_grid.set_images(np.zeros((0, 28, 28), np.float32))
        self.strip.set_images(np.zeros((0, 28, 28), np.float32))
        self.grad_view.clear()
        self._update_buttons()

    def steps_per_second(self) -> float:
        v = self.speed.value()
        return float("inf") if v >= 100 else float(np.exp(np.log(1) + (np.log(200) - np.log(1)) * v / 99.0))

    def _update_speed_label(self) -> None:
        sps = self.steps_per_second()
        self.speed_label.setText("max" if sps == float("inf") else f"{sps:.0f} steps/s")

    def _advance(self) -> bool:
        try:
            return self.player.step()
        except Exception as exc:
            self.pause()
            self._error(f"sampler failed: {exc.__class__.__name__}: {exc}")
            return False

    def _tick(self) -> None:
        if self.player is None:
            self.pause()
            return
        now = time.monotonic()
        sps = self.steps_per_second()
        self._owed = min(self._owed + (now - self._last_tick) * sps, 1e6) if sps != float("inf") else 1e6
        self._last_tick = now
        deadline = now + TICK_BUDGET_S
        stepped = False
        while self._owed >= 1 and time.monotonic() < deadline:
            if not self._advance():
                break
            self._owed -= 1
            stepped = True
        if sps == float("inf"):
            self._owed = 0.0
        # a slow step (big model, many chains) overruns the slice: wait as long as it took before the
        # next tick, so the event loop always has at least half the time for input and painting
        busy_ms = (time.monotonic() - now) * 1000.0
        self.timer.setInterval(int(min(MAX_TICK_INTERVAL_MS, max(TICK_INTERVAL_MS, busy_ms))))
        if stepped and (time.monotonic() - self._last_draw > 1 / 30 or self.player.done):
            self._refresh_views()
        if self.player is not None and self.player.done:
            self.pause()
            self._refresh_views()
            self.message.emit(f"chain finished after {self.player.step_index} steps")

    def _refresh_views(self) -> None:
        p = self.player
        if p is None:
            return
        self._last_draw = time.monotonic()
        self.surface.display = p.current[0]
        self.surface.update()
        self.progress.setMaximum(max(1, p.settings.total_steps))
        self.progress.setValue(min(p.step_index, p.settings.total_steps))
        self._update_buttons()
        trace = p.energy_trace()
        x = np.arange(len(trace))
        self.mean_curve.setData(x, trace.mean(1))
        self.first_curve.setData(x, trace[:, 0])
        self.lo_curve.setData(x, trace.min(1))
        self.hi_curve.setData(x, trace.max(1))
        self.band.show()
        self.chain_grid.set_images(p.current, cols=4)
        if self.show_grad.isChecked() and p.grad is not None:
            g = p.grad[0].T
            lim = float(np.abs(g).max()) or 1.0
            self.grad_view.setImage(g, levels=(-lim, lim), autoRange=False)
        frames = p.frames_array()[:, 0]
        self.strip.set_images(frames[strip_indices(len(frames), STRIP_COLS)], cols=STRIP_COLS)
        self._update_energy_readout()

    # --- export -------------------------------------------------------------------------------
    def export_gif(self, path: str, fps: float = 12.0) -> int:
        if self.player is None or len(self.player.frames) == 0:
            raise EbmStudioError("run a chain first")
        return save_gif(path, self.player.frames_array(), scale=4, fps=fps)

    def export_strip(self, path: str) -> tuple[int, int]:
        if self.player is None or len(self.player.frames) == 0:
            raise EbmStudioError("run a chain first")
        return save_strip_png(path, self.player.frames_array(), scale=2)

    def export_gif_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export chain as GIF", "chain.gif", "GIF (*.gif)")
        if path:
            try:
                n = self.export_gif(path)
                self.message.emit(f"wrote {n} frames to {path}")
            except (EbmStudioError, OSError) as exc:
                self._error(str(exc))

    def export_strip_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export film strip", "chain.png", "PNG (*.png)")
        if path:
            try:
                self.export_strip(path)
                self.message.emit(f"wrote {path}")
            except (EbmStudioError, OSError) as exc:
                self._error(str(exc))

    # --- misc ---------------------------------------------------------------------------------
    def _error(self, text: str) -> None:
        self.last_error = text
        self.error.emit(text)

    def add_example(self) -> None:
        img = np.asarray(self.surface.image, dtype=np.float32).reshape(28, 28)
        if float(img.max()) <= 0.0:
            self.message.emit("draw a digit first: an empty canvas is not an example")
            return
        self.example_added.emit(img.copy())

    def _update_buttons(self) -> None:
        has_model = self.model is not None
        chainless = has_model and self.cfg is not None and not family_traits(self.cfg.model.family).has_chain
        for b, tip in ((self.play_btn, "Run the chains at the chosen speed (pause any time)"),
                       (self.step_btn, "Advance every chain by exactly one sampler step")):
            b.setEnabled(has_model and not chainless)
            b.setToolTip(tip if has_model and not chainless else "Load or train a model first" if not has_model
                         else f"A {self.cfg.model.family} is a baseline, not an energy model: it draws samples in "
                              "one pass from its latent prior (see Samples), with no chain to watch")
        has_chain = self.player is not None
        for b in (self.keep_btn, self.gif_btn, self.strip_btn):
            b.setEnabled(has_chain)

    def shutdown(self) -> None:
        self.pause()
