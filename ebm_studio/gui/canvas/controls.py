"""The canvas's controls, built once: drawing tools and seeds, playback settings, and the views
of the chain (energy trace, chains, gradient, film strip). Functions of the panel they fill in,
so the panel's own module keeps only its behaviour."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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
)

from ...core.conv.gradient import takes_sigma
from ...core.families import family
from ..fields import NumberField
from ..image_grid import ImageGrid

STRIP_COLS = 12
MODES = {
    "free": "Free: the whole image moves",
    "inpaint": "Inpaint: drawn pixels stay clamped",
}


def build_tools(panel) -> QVBoxLayout:
    """The energy label, brush, edit buttons, seeds and "add to training examples"."""
    col = QVBoxLayout()
    panel.energy_label = QLabel("energy: –")
    panel.energy_label.setWordWrap(True)
    panel.energy_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    panel.energy_label.setToolTip("Energy of the image shown, at the noise level stated (the same number as the "
                                 "red curve of the energy plot), and its rank among real MNIST-test digits "
                                 "noised to the same level (higher = more digit-like; a blank image ranks 0)")
    tools = QGridLayout()
    panel.brush = QSlider(Qt.Orientation.Horizontal)
    panel.brush.setRange(5, 40)
    panel.brush.setValue(13)
    panel.brush.valueChanged.connect(lambda v: setattr(panel.surface, "brush_radius", v / 10.0))
    panel.softness = QSlider(Qt.Orientation.Horizontal)
    panel.softness.setRange(0, 100)
    panel.softness.setValue(50)
    panel.softness.valueChanged.connect(lambda v: setattr(panel.surface, "softness", v / 100.0))
    panel.eraser = QCheckBox("Eraser")
    panel.eraser.toggled.connect(lambda on: setattr(panel.surface, "eraser", on))
    tools.addWidget(QLabel("Brush"), 0, 0)
    tools.addWidget(panel.brush, 0, 1)
    tools.addWidget(QLabel("Soft"), 0, 2)
    tools.addWidget(panel.softness, 0, 3)
    tools.addWidget(panel.eraser, 0, 4)
    buttons = [("Undo", panel.undo, "Ctrl+Z"), ("Redo", panel.redo, "Ctrl+Shift+Z"), ("Clear", panel.clear, None),
               ("Invert", panel.surface.invert, None)]
    for i, (text, slot, sc) in enumerate(buttons):
        b = QPushButton(text)
        b.clicked.connect(lambda _=False, slot=slot: slot())
        if sc:
            b.setShortcut(sc)
        tools.addWidget(b, 1, i)
    col.addLayout(tools)
    seeds = QGridLayout()
    for i, (text, slot, tip) in enumerate([
            ("Load image…", panel.load_image_dialog, "PNG/JPEG/BMP of any size; also drag and drop"),
            ("Noise", panel.seed_noise, "Uniform noise"),
            ("MNIST", panel.seed_mnist, "A random MNIST test digit"),
            ("Noisy MNIST", panel.seed_noisy_mnist,
             "A test digit with Gaussian noise (σ = 0.35): watch it denoise")]):
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _=False, slot=slot: slot())  # clicked(bool) must not reach the slot's arguments
        seeds.addWidget(b, i // 2, i % 2)
    panel.mmse_btn = QPushButton("Denoise: MMSE estimate")
    panel.mmse_btn.setToolTip("The least-squares estimate of the clean digit under the drawing, taken to carry "
                              "noise of the 'Anneal from σ' level (Tweedie's formula, one network evaluation), as "
                              "the new drawing (Undo brings the old one back). Playing the chains instead draws "
                              "samples of the clean digit: sharper, each a little off")
    panel.mmse_btn.clicked.connect(lambda: panel.mmse_denoise())
    panel.mmse_btn.setEnabled(False)  # until a noise-conditional energy is shown
    seeds.addWidget(panel.mmse_btn, 2, 0, 1, 2)
    col.addLayout(seeds)
    panel.example_btn = QPushButton("Add drawing to training examples")
    panel.example_btn.setToolTip("Few-shot learning: keep this drawing as a training image. The Training "
                                "panel's dataset becomes your drawings (saved as PNGs); choose 'Fine-tune the "
                                "model shown' there to fine-tune the current model on them")
    panel.example_btn.clicked.connect(lambda: panel.add_example())
    col.addWidget(panel.example_btn)
    return col


def build_playback(panel) -> QGroupBox:
    """Play/Step/Reset/Keep, mode, sampler settings, steering, progress."""
    box = QGroupBox("Langevin playback")
    grid = QGridLayout(box)
    panel.play_btn = QPushButton("▶ Play")
    panel.play_btn.clicked.connect(lambda: panel.toggle_play())
    panel.step_btn = QPushButton("Step")
    panel.step_btn.clicked.connect(lambda: panel.step())
    panel.reset_btn = QPushButton("Reset to seed")
    panel.reset_btn.setToolTip("Forget the chain and show your drawing again (it stays editable)")
    panel.reset_btn.clicked.connect(lambda: panel.reset_chain())
    panel.keep_btn = QPushButton("Keep as seed")
    panel.keep_btn.setToolTip("Make chain 1's current image the new drawing: edit it, or run on from there")
    panel.keep_btn.clicked.connect(lambda: panel.keep_as_seed())
    for i, b in enumerate((panel.play_btn, panel.step_btn, panel.reset_btn, panel.keep_btn)):
        grid.addWidget(b, i // 2, i % 2 * 2, 1, 2)
    panel.mode = QComboBox()
    for key, text in MODES.items():
        panel.mode.addItem(text, key)
    panel.mode.currentIndexChanged.connect(panel._mode_changed)
    panel.mode.setToolTip("Inpainting clamps the pixels you drew (shaded orange) to their values and samples "
                         "the rest. To have the model complete your strokes into a digit, anneal from a large "
                         "noise level (σ ≈ 1); at a small σ (0.2) it only cleans up around them. A noise-conditional "
                         "energy also steers the free pixels to agree with the clamped ones (reconstruction "
                         "guidance, weight sampler.inpaint_guidance in the run's config)")
    grid.addWidget(panel.mode, 2, 0, 1, 4)
    build_playback_fields(panel, grid)
    panel.progress = QProgressBar()
    panel.progress.setRange(0, 200)
    panel.progress.setValue(0)
    panel.progress.setFormat("step %v / %m")
    panel.progress.setToolTip("Sampler steps taken by the chains so far, out of the total")
    grid.addWidget(panel.progress, 9, 0, 1, 4)
    panel.training_note = QLabel("Training is running: the canvas uses the model as of the last pause or step.")
    panel.training_note.setWordWrap(True)
    panel.training_note.setStyleSheet("color: #a15c00")
    panel.training_note.hide()
    grid.addWidget(panel.training_note, 10, 0, 1, 4)
    return box


def build_playback_fields(panel, grid: QGridLayout) -> None:
    panel.speed = QSlider(Qt.Orientation.Horizontal)
    panel.speed.setRange(0, 100)
    panel.speed.setValue(60)
    panel.speed.setToolTip("Steps per second, from slow motion (1/s) to as fast as the CPU allows")
    panel.speed.valueChanged.connect(panel._update_speed_label)
    panel.speed_label = QLabel("")
    grid.addWidget(QLabel("Speed"), 3, 0)
    grid.addWidget(panel.speed, 3, 1, 1, 2)
    grid.addWidget(panel.speed_label, 3, 3)
    panel.step_size = NumberField(
        "step size", 10.0, 0, 1e6,
        tooltip="How far each step moves the image downhill: x ← x − step·∇E(x) + noise·ξ, with ξ ~ N(0, 1) "
                "per pixel (the gradient is clipped first if the model says so). Too small: nothing happens; "
                "too large: the image overshoots and saturates.")
    panel.noise = NumberField(
        "noise", 0.005, 0, 10,
        tooltip="Standard deviation of the random kick ξ added every step. Exact Langevin sampling of "
                "p(x) ∝ exp(−E(x)) needs noise = √(2·step); 0 turns the chain into plain gradient descent "
                "on the energy, which finds the nearest valley instead of exploring.")
    panel.total = NumberField("total steps", 200, 1, 1_000_000, integer=True,
                             tooltip="The chain stops after this many steps (Play again to restart it)")
    for f in (panel.step_size, panel.noise, panel.total):  # anneal_from is connected below
        f.value_edited.connect(panel._apply_settings)
        f.validity_changed.connect(lambda *_: panel._update_buttons())
    panel.total.value_edited.connect(panel._total_changed)
    grid.addWidget(QLabel("Step size"), 4, 0)
    grid.addWidget(panel.step_size, 4, 1)
    grid.addWidget(QLabel("Noise"), 4, 2)
    grid.addWidget(panel.noise, 4, 3)
    grid.addWidget(QLabel("Total steps"), 5, 0)
    grid.addWidget(panel.total, 5, 1)
    panel.chains = QSpinBox()
    panel.chains.setRange(1, 16)
    panel.chains.setValue(8)
    panel.chains.setToolTip("Chains started from the same image with different noise, to see the spread")
    grid.addWidget(QLabel("Chains"), 5, 2)
    grid.addWidget(panel.chains, 5, 3)
    panel.anneal = QCheckBox("Anneal from σ =")
    panel.anneal.setToolTip("For noise-conditional energies: start at a large noise level (coarse shapes) and "
                           "cool down to the finest level (sharp strokes), as when sampling from noise")
    panel.anneal_from = NumberField("anneal from sigma", 0.2, 0, 100, open_low=True,
                                   tooltip="Noise level to start from: about 1.0 forgets the drawing and "
                                           "dreams up a "
                                           "new digit; 0.1-0.2 keeps its shape and cleans it up")
    panel.anneal.toggled.connect(panel._anneal_toggled)
    panel.anneal_from.value_edited.connect(panel._apply_settings)
    grid.addWidget(panel.anneal, 6, 0, 1, 2)
    grid.addWidget(panel.anneal_from, 6, 2, 1, 2)
    panel.steer = QComboBox()
    panel.steer.addItem("Free (no steering)", None)
    for d in range(10):
        panel.steer.addItem(f"Steer toward a {d}", d)
    panel.steer.setToolTip("Class-conditional sampling: follow E(x) - w·log p(digit | x), with the run's "
                          "class guide "
                          "(a classifier of noised images; train one with 'ebm-studio guide RUN')")
    panel.steer_weight = NumberField("guidance weight", 2.0, 0, 100, tooltip="w: 1 = Bayes' rule; larger = "
                                    "more decidedly that digit, less varied")
    panel.steer.currentIndexChanged.connect(panel._energy_changed)
    panel.steer_weight.value_edited.connect(panel._energy_changed)
    grid.addWidget(panel.steer, 7, 0, 1, 2)
    grid.addWidget(panel.steer_weight, 7, 2, 1, 2)
    panel.steer.setEnabled(False)
    panel.steer_weight.setEnabled(False)
    build_guidance_field(panel, grid, row=8)


def build_guidance_field(panel, grid: QGridLayout, row: int) -> None:
    """Inpainting's reconstruction-guidance weight (sampler.inpaint_guidance), for the chain's next start."""
    panel.guidance_label = QLabel("Inpaint guidance")
    panel.inpaint_guidance = NumberField(
        "inpaint guidance", 4.0, 0, 1000,
        tooltip="Inpainting with a noise-conditional energy: how strongly the free pixels are pulled to agree "
                "with the clamped ones (reconstruction guidance, w). 0 = off: only the net's receptive field "
                "carries what the clamped pixels say; 4 = the model's default, which completes half-digits as "
                "the right digit most often; much larger over-fits the strokes. Starts the chain again.")
    panel.inpaint_guidance.value_edited.connect(panel._energy_changed)
    panel.inpaint_guidance.validity_changed.connect(lambda *_: panel._update_buttons())
    grid.addWidget(panel.guidance_label, row, 0, 1, 2)
    grid.addWidget(panel.inpaint_guidance, row, 2, 1, 2)
    update_guidance_field(panel)


def noise_conditional(panel) -> bool:
    """The model shown is a Langevin energy that takes a noise level: what MMSE denoising and
    inpainting's guidance need."""
    return (panel.model is not None and panel.cfg is not None and family(panel.cfg.model.family).langevin
            and takes_sigma(panel.model))


def guidance_applies(panel) -> bool:
    """The guidance field matters: inpainting mode, with a noise-conditional energy."""
    return noise_conditional(panel) and panel.mode.currentData() == "inpaint"


def update_guidance_field(panel) -> None:
    on = guidance_applies(panel)
    panel.inpaint_guidance.setEnabled(on)
    panel.guidance_label.setEnabled(on)


def chain_config(panel, mask):
    """The run's config for a new chain, with the field's guidance weight when it is inpainting."""
    weight = panel.inpaint_guidance.value()
    if mask is None or not guidance_applies(panel) or weight is None:
        return panel.cfg
    return panel.cfg.with_overrides(**{"sampler.inpaint_guidance": float(weight)})


def build_views(panel, right: QVBoxLayout) -> None:
    """The energy trace, the chains and chain 1's gradient, and the film strip."""
    panel.plot = pg.PlotWidget(background="w")
    panel.plot.setTitle("<span style='color:#222'>Energy along the chain</span>", size="10pt")
    panel.plot.setToolTip("Energy of each chain's image after every step, at that step's noise level (the label "
                         "under the drawing states it). Annealing first adds noise (the energy jumps up), then "
                         "cools down: the image descends into a valley.")
    panel.plot.setLabel("bottom", "Langevin step")
    panel.plot.setLabel("left", "E(x) at the step's σ")
    panel.plot.showGrid(x=True, y=True, alpha=0.25)
    panel.plot.setMinimumSize(240, 180)
    panel.plot.addLegend(offset=(-10, 10), brush=(255, 255, 255, 210), pen=(200, 200, 200), labelTextColor="#222")
    panel.lo_curve, panel.hi_curve = pg.PlotDataItem([], []), pg.PlotDataItem([], [])
    panel.band = pg.FillBetweenItem(panel.lo_curve, panel.hi_curve, brush=(31, 119, 180, 50))
    panel.plot.addItem(panel.band)
    panel.mean_curve = panel.plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="mean of chains")
    panel.first_curve = panel.plot.plot(pen=pg.mkPen("#d62728", width=1), name="chain 1 (shown)")
    right.addWidget(panel.plot, 3)
    row = QHBoxLayout()
    panel.chain_grid = ImageGrid(cols=4)
    panel.chain_grid.setMinimumSize(120, 120)
    panel.chain_grid.placeholder = "press Play or Step"
    panel.grad_view = pg.ImageView()
    panel.grad_view.ui.histogram.hide()
    panel.grad_view.ui.roiBtn.hide()
    panel.grad_view.ui.menuBtn.hide()
    panel.grad_view.setColorMap(pg.colormap.get("CET-D1"))
    panel.grad_view.setMinimumSize(120, 120)
    col = QVBoxLayout()
    col.addWidget(QLabel("All chains (current state)"))
    col.addWidget(panel.chain_grid, 1)
    row.addLayout(col, 1)
    col = QVBoxLayout()
    panel.show_grad = QCheckBox("∇E of chain 1")
    panel.show_grad.setToolTip("The energy's gradient on chain 1's image: blue where ink will grow, red "
                              "where it fades")
    panel.show_grad.setChecked(True)
    col.addWidget(panel.show_grad)
    col.addWidget(panel.grad_view, 1)
    row.addLayout(col, 1)
    right.addLayout(row, 2)
    strip_row = QHBoxLayout()
    strip_row.addWidget(QLabel("Film strip, every"))
    panel.every = QSpinBox()
    panel.every.setRange(1, 1000)
    panel.every.setValue(10)
    strip_row.addWidget(panel.every)
    strip_row.addWidget(QLabel("steps"))
    strip_row.addStretch(1)
    panel.gif_btn = QPushButton("Export GIF…")
    panel.gif_btn.clicked.connect(panel.export_gif_dialog)
    panel.strip_btn = QPushButton("Export strip…")
    panel.strip_btn.clicked.connect(panel.export_strip_dialog)
    strip_row.addWidget(panel.gif_btn)
    strip_row.addWidget(panel.strip_btn)
    right.addLayout(strip_row)
    panel.strip = ImageGrid(cols=STRIP_COLS)
    panel.strip.setToolTip("Chain 1 from the seed (left) to now (right), evenly spaced; exports hold every "
                          "recorded frame of every chain")
    panel.strip.setMinimumSize(120, 70)
    panel.strip.placeholder = "every k-th state of chain 1 appears here"
    right.addWidget(panel.strip, 1)

# --- reflow and keys ---------------------------------------------------------------------------
