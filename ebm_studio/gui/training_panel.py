"""The Training panel: every setting of a run, validated as typed.

It turns its fields into a :class:`RunConfig` (the same object the CLI builds from flags and
TOML files). Structural settings lock while a run is active; the learning rate, alpha and the
sampler settings stay editable and are sent to the worker, taking effect at the next step.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..controller import StudioController
from ..controller.studio import START_MODES
from ..core.config import RunConfig
from ..core.errors import ConfigError
from ..core.families import all_families, family
from .fields import NumberField
from .training_boxes import build_optimisation_box, build_sampler_box, compact_form


class TrainingPanel(QWidget):
    validity_changed = Signal(bool)
    live_settings_changed = Signal()  # a setting that may change mid-run was edited

    def __init__(self, controller: StudioController | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller or StudioController()
        self.data_source = "mnist"
        self._valid = True
        self._running = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("QLabel { color: #a94442; background: #fdf0f0; border: 1px solid #e0b4b4;"
                                   " border-radius: 3px; padding: 4px; }")
        self.message.hide()
        outer.addWidget(self.message)  # on top, where it is seen without scrolling
        outer.addWidget(self._build_start_box())
        outer.addWidget(self._build_model_box())
        outer.addWidget(build_optimisation_box(self))
        outer.addWidget(build_sampler_box(self))
        outer.addStretch(1)
        self._collect_fields()
        self._setting = False
        self.family.currentIndexChanged.connect(self._family_changed)
        self.controller.start_mode_changed.connect(self._render_start_mode)
        self.controller.model_changed.connect(lambda *_: self._render_start_mode())
        self.set_config(RunConfig())
        self._render_start_mode()

    # --- building ----------------------------------------------------------------------------------
    def _build_start_box(self) -> QGroupBox:
        box = QGroupBox("Start does")
        col = QVBoxLayout(box)
        self.start_mode = QComboBox()
        for key, text in START_MODES.items():
            self.start_mode.addItem(text, key)
        self.start_mode.setToolTip("What Start trains: a new model of the recipe below (the default, also with the "
                                   "shipped model shown), the run opened or trained here, or the model shown "
                                   "fine-tuned on the data chosen below")
        self.start_mode.activated.connect(lambda i: self.controller.set_start_mode(self.start_mode.itemData(i)))
        self.start_note = QLabel("")
        self.start_note.setWordWrap(True)
        self.start_note.setStyleSheet("color: #555;")
        col.addWidget(self.start_mode)
        col.addWidget(self.start_note)
        return box

    def _build_model_box(self) -> QGroupBox:
        model_box = QGroupBox("Model and data")
        form = compact_form(model_box)
        self.family = QComboBox()
        for fam in all_families():
            self.family.addItem(fam.label, fam.name)
        self.family.setToolTip("Which energy-based model to train")
        self.family.setMinimumContentsLength(12)
        self.family.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        form.addRow("Family", self.family)
        preset_row = QHBoxLayout()
        self.preset = QComboBox()
        from ..core.presets import PRESETS

        for name in PRESETS:
            self.preset.addItem(name)
        self.preset.setToolTip("dsm (the default): denoising score matching, ancestral sampling (digits in minutes on "
                               "a CPU)\n"
                               "cd: contrastive divergence by recovery likelihood, sampled by its own chain "
                               "(digits in 3 minutes)\n"
                               "cd-uva: contrastive divergence with a replay buffer (UvA tutorial / Du & Mordatch)\n"
                               "cd-seed: contrastive divergence started at the data (the seed project)")
        apply_preset = QPushButton("Apply")
        apply_preset.clicked.connect(lambda: self.apply_preset())
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(apply_preset)
        form.addRow("Recipe", preset_row)
        self._preset_widgets = [self.preset, apply_preset]
        self.width = NumberField("width", 16, 1, 512, integer=True,
                                 tooltip="Channels of the first conv layer (the net's capacity); hidden units "
                                         "for Boltzmann machines")
        form.addRow("Width / hidden", self.width)
        data_row = QHBoxLayout()
        self.data_label = QLabel("MNIST (bundled)")  # a long folder path is elided, in full in the tooltip
        self.data_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.data_label.setMinimumWidth(40)
        self.data_button = QPushButton("Choose…")
        self.data_button.setToolTip("Train on your own data: a folder of MNIST IDX files or of images")
        self.data_button.clicked.connect(self._choose_data)
        self.data_reset = QPushButton("MNIST")
        self.data_reset.clicked.connect(lambda: self._set_source("mnist"))
        data_row.addWidget(self.data_button)
        data_row.addWidget(self.data_reset)
        data_row.addStretch(1)
        form.addRow("Dataset", self.data_label)
        form.addRow("", data_row)
        digits = QGridLayout()
        self.digit_boxes = []
        for d in range(10):
            cb = QCheckBox(str(d))
            cb.setChecked(True)
            cb.toggled.connect(self._revalidate)
            self.digit_boxes.append(cb)
            digits.addWidget(cb, d // 5, d % 5)
        all_btn, none_btn = QPushButton("All"), QPushButton("None")
        all_btn.clicked.connect(lambda: [b.setChecked(True) for b in self.digit_boxes])
        none_btn.clicked.connect(lambda: [b.setChecked(False) for b in self.digit_boxes])
        digits.addWidget(all_btn, 0, 5)
        digits.addWidget(none_btn, 1, 5)
        form.addRow("Digits", digits)
        self.examples = NumberField("examples", 0, 0, 10_000_000, integer=True,
                                    tooltip="Train on only the first N images of the chosen digits (few-shot "
                                            "learning); 0 = all of them")
        form.addRow("Examples (0 = all)", self.examples)
        self.all_none = (all_btn, none_btn)
        return model_box

    def _collect_fields(self) -> None:
        all_btn, none_btn = self.all_none
        self._fields = [self.width, self.examples, self.batch_size, self.budget_value, self.lr, self.beta1,
                        self.alpha, self.contrast, self.seed, self.buffer_size, self.reinit, self.steps,
                        self.step_size, self.noise, self.grad_clip,
                        self.sigma_max, self.sigma_min, self.levels, self.per_level, self.eps, self.beta0,
                        self.solver_steps]
        self.live_fields = [self.lr, self.beta1, self.alpha, self.contrast, self.steps, self.step_size, self.noise,
                            self.grad_clip,
                            self.levels, self.per_level, self.eps, self.beta0]
        self.structural = [self.start_mode, self.family, self.width, self.examples, self.data_button,
                           self.data_reset, *self.digit_boxes, all_btn,
                           none_btn, self.batch_size, self.optimizer, self.seed, self.device, self.precision,
                           self.negatives,
                           self.buffer_size, self.budget_kind, self.budget_value, self.objective, self.schedule,
                           self.sigma_max, self.sigma_min, self.method, self.solver_steps, *self._preset_widgets]
        for f in self._fields:
            f.validity_changed.connect(self._revalidate)
        for f in self.live_fields:
            f.value_edited.connect(self.live_settings_changed)

    # --- what Start does ---------------------------------------------------------------------------
    def _render_start_mode(self, *_) -> None:
        c = self.controller
        available = c.available_start_modes()
        for i in range(self.start_mode.count()):
            item = self.start_mode.model().item(i)
            item.setEnabled(self.start_mode.itemData(i) in available or self.start_mode.itemData(i) == c.start_mode)
        self.start_mode.setCurrentIndex(max(0, self.start_mode.findData(c.start_mode)))
        self.start_note.setText(self.start_summary())

    def start_summary(self) -> str:
        c = self.controller
        if c.start_mode == "continue":
            where = c.session.run_dir if c.session is not None else c.shown.path
            return f"goes on with the run in {where}"
        if c.start_mode == "fine-tune":
            return "trains the model shown further, on the data chosen below (its architecture and sampler)"
        fam = self.family.currentData()
        return f"trains a new {family(fam).label} with the recipe below (recipe {self.preset.currentText()})"

    # --- config <-> fields --------------------------------------------------------------------
    def set_config(self, cfg: RunConfig) -> None:
        self._base = cfg.copy()
        self._setting = True
        try:
            self._set_fields(cfg)
        finally:
            self._setting = False
        self._update_enabled()
        self._revalidate()

    def _set_fields(self, cfg: RunConfig) -> None:
        idx = self.family.findData(cfg.model.family)
        if idx >= 0:
            self.family.setCurrentIndex(idx)
        from ..core.presets import PRESETS

        shown = PRESETS.get(self.preset.currentText(), {}).get("model.family", RunConfig().model.family)
        if shown != cfg.model.family:  # never "Recipe: dsm" beside an RBM
            self.preset.setCurrentText(family(cfg.model.family).preset)
        self.width.set_value(cfg.model.width if "width" in family(cfg.model.family).model_fields
                             else cfg.model.hidden[0])
        self._set_source(cfg.data.source)
        self.examples.set_value(cfg.data.limit or 0)
        chosen = set(cfg.data.digits or range(10))
        for d, cb in enumerate(self.digit_boxes):
            cb.setChecked(d in chosen)
        t, s = cfg.train, cfg.sampler
        self.batch_size.set_value(t.batch_size)
        self.optimizer.setCurrentText(t.optimizer)
        self.lr.set_value(t.lr)
        self.beta1.set_value(t.beta1)
        self.alpha.set_value(t.alpha)
        self.contrast.set_value(t.contrast)
        self.seed.set_value(min(t.seed, 2**31 - 1))
        self.device.set_value(t.device)
        self.on_divergence.set_value(t.on_divergence)
        self.precision.set_value(t.precision)
        self.negatives.set_value(t.negatives)
        self.buffer_size.set_value(t.buffer_size)
        self.reinit.set_value(t.reinit_prob)
        self.objective.set_value(t.objective)
        self.schedule.set_value(s.schedule)
        self.sigma_max.set_value(s.sigma_max)
        self.sigma_min.set_value(s.sigma_min)
        self.levels.set_value(s.levels)
        self.per_level.set_value(s.steps_per_level)
        self.eps.set_value(s.eps)
        self.method.set_value(s.method)
        self.solver_steps.set_value(s.solver_steps)
        self.steps.set_value(s.steps)
        self.beta0.set_value(s.beta0)
        self.step_size.set_value(s.step_size)
        self.noise.set_value(s.noise)
        self.grad_clip.set_value(s.grad_clip)

    def config(self) -> RunConfig:
        """The RunConfig the fields describe; raises ConfigError if any field is invalid."""
        bad = [f.error for f in self._fields if f.isEnabled() and not f.is_valid()]
        if bad:
            raise ConfigError(bad[0])
        digits = [d for d, cb in enumerate(self.digit_boxes) if cb.isChecked()]
        if not digits:
            raise ConfigError("choose at least one digit to train on")
        fam = self.family.currentData()
        over = {
            "model.family": fam,
            "data.source": self.data_source,
            "data.digits": None if len(digits) == 10 else digits,
            "data.limit": self.examples.value() or None,
            "train.batch_size": self.batch_size.value(),
            "train.optimizer": self.optimizer.currentText(),
            "train.lr": self.lr.value(),
            "train.beta1": self.beta1.value(),
            "train.alpha": self.alpha.value(),
            "train.contrast": self.contrast.value(),
            "train.seed": self.seed.value(),
            "train.device": self.device.currentData(),
            "train.on_divergence": self.on_divergence.currentData(),
            "train.precision": self.precision.currentData(),
            "sampler.precision": self.precision.currentData(),
            "train.negatives": self.negatives.currentData(),
            "train.buffer_size": self.buffer_size.value(),
            "train.reinit_prob": self.reinit.value(),
            "sampler.steps": self.steps.value(),
            "sampler.beta0": self.beta0.value(),
            "sampler.step_size": self.step_size.value(),
            "sampler.noise": self.noise.value(),
            "sampler.grad_clip": self.grad_clip.value(),
            "train.objective": self.objective.currentData(),
            "sampler.schedule": self.schedule.currentData(),
            "sampler.sigma_max": self.sigma_max.value(),
            "sampler.sigma_min": self.sigma_min.value(),
            "sampler.levels": self.levels.value(),
            "sampler.steps_per_level": self.per_level.value(),
            "sampler.eps": self.eps.value(),
            "sampler.method": self.method.currentData(),
            "sampler.solver_steps": self.solver_steps.value(),
        }
        if "width" in family(fam).model_fields:
            over["model.width"] = self.width.value()
        else:
            over["model.hidden"] = [self.width.value()] + list(self._base.model.hidden[1:])
        # a greyed-out field that does not parse keeps the base value rather than blocking the run
        over = {k: v for k, v in over.items() if v is not None or k == "data.digits"}
        return self._base.with_overrides(**over)

    def apply_preset(self, name: str | None = None) -> None:
        """Start from a named recipe, keeping the data choice, seed and device."""
        from ..core.presets import PRESETS, preset_config

        name = name or self.preset.currentText()
        keep = {"data.source": self.data_source, "data.limit": self.examples.value() or None,
                "data.digits": [d for d, cb in enumerate(self.digit_boxes) if cb.isChecked()] or None,
                "train.device": self.device.currentData()}
        if len(keep["data.digits"] or []) == 10:
            keep["data.digits"] = None
        seed = self.seed.value()
        if seed is not None:
            keep["train.seed"] = seed
        cfg = preset_config(name, RunConfig().with_overrides(**keep))
        if "model.family" not in PRESETS[name]:
            cfg = cfg.with_overrides(**{"model.family": RunConfig().model.family})
        self.set_config(cfg)
        self.preset.setCurrentText(name)
        self._render_start_mode()

    def _family_changed(self, *_) -> None:
        """A new model family starts from its own recipe (a Boltzmann machine shares nothing with DSM)."""
        if self._setting:
            return
        from ..core.presets import family_preset

        self.apply_preset(family_preset(self.family.currentData()))

    def live_overrides(self) -> dict:
        """The settings that may change mid-run, as config overrides (empty if any is invalid)."""
        fields = {"train.lr": self.lr, "train.beta1": self.beta1, "train.alpha": self.alpha,
                  "train.contrast": self.contrast,
                  "sampler.steps": self.steps, "sampler.step_size": self.step_size, "sampler.noise": self.noise,
                  "sampler.grad_clip": self.grad_clip, "sampler.levels": self.levels,
                  "sampler.steps_per_level": self.per_level, "sampler.eps": self.eps, "sampler.beta0": self.beta0}
        values = {k: f.value() for k, f in fields.items()}
        return {} if any(v is None for v in values.values()) else values

    def _objective_chosen(self, *_) -> None:
        """A person picked an objective: an energy trained by recovery likelihood is sampled by its own
        chain, and one trained otherwise not."""
        from ..core.presets import PRESETS

        if self.objective.currentData() == "recovery":
            self.schedule.set_value("ancestral")
            self.method.set_value("recovery")
            self.alpha.set_value(PRESETS["cd"]["train.alpha"])
        elif self.method.currentData() == "recovery":
            self.method.set_value("fast-pc")

    def _update_enabled(self, *_) -> None:
        """Grey out what the chosen objective and schedule do not use."""
        if self._running:
            return
        traits = family(self.family.currentData())
        self.precision.setEnabled(traits.langevin)  # the others compute in float32
        if not traits.langevin:  # no Langevin sampler; Boltzmann machines keep PCD-k with Gibbs sweeps
            gibbs = traits.gibbs  # baselines: maximum likelihood, samples in one pass
            for w in (self.objective, self.schedule, self.buffer_size, self.reinit, self.alpha, self.contrast,
                      self.sigma_max,
                      self.sigma_min, self.levels, self.per_level, self.eps, self.step_size, self.noise,
                      self.grad_clip, self.method, self.solver_steps):
                w.setEnabled(False)
            for w in (self.negatives, self.steps, self.beta0):
                w.setEnabled(gibbs)
            return
        self.beta0.setEnabled(False)
        self.objective.setEnabled(True)
        self.schedule.setEnabled(True)
        cd = self.objective.currentData() == "cd"
        annealed = self.schedule.currentData() in ("annealed", "ancestral")
        self.eps.setEnabled(self.schedule.currentData() == "annealed")
        for w in (self.negatives, self.buffer_size, self.reinit):
            w.setEnabled(cd)
        self.alpha.setEnabled(cd or self.objective.currentData() == "recovery")
        dsm = self.objective.currentData() == "dsm"
        self.contrast.setEnabled(dsm and self.schedule.currentData() == "ancestral")
        self.method.setEnabled(not cd and self.schedule.currentData() == "ancestral")
        self.solver_steps.setEnabled(self.method.isEnabled() and self.method.currentData() != "pc")
        for w in (self.sigma_max, self.sigma_min, self.levels, self.per_level):
            w.setEnabled(annealed or not cd)
        for w in (self.steps, self.step_size, self.noise, self.grad_clip):
            w.setEnabled(cd or not annealed)

    def budget(self):
        from ..core.session import Budget

        kind = self.budget_kind.currentText()
        v = self.budget_value.value()
        if kind == "epochs":
            return Budget(epochs=v)
        if kind == "minutes":
            return Budget(minutes=v)
        if kind == "steps":
            return Budget(steps=max(1, int(v)))
        return Budget()

    def is_valid(self) -> bool:
        return self._valid

    def _revalidate(self, *_) -> None:
        if getattr(self, "_setting", False):
            return  # set_config revalidates once at the end
        try:
            self.config()
            msg, ok = "", True
        except ConfigError as exc:
            msg, ok = str(exc), False
        self.message.setText(f"⚠ {msg}" if msg else "")
        self.message.setVisible(bool(msg))
        if ok != self._valid:
            self._valid = ok
        self.validity_changed.emit(ok)

    def set_running(self, running: bool) -> None:
        """Lock the settings that cannot change during a run; live ones stay editable."""
        self._running = running
        for w in self.structural:
            w.setEnabled(not running)
        if not running:
            self.budget_value.setEnabled(self.budget_kind.currentText() != "unlimited")
            self._update_enabled()

    # --- dataset ------------------------------------------------------------------------------
    def _choose_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of IDX files or images")
        if folder:
            self._set_source(folder)

    def _set_source(self, source: str) -> None:
        self.data_source = source or "mnist"
        self.data_label.setText("MNIST (bundled)" if self.data_source == "mnist" else elide_path(self.data_source))
        self.data_label.setToolTip(self.data_source)
        self.controller.set_dataset(self.data_source)
        self._revalidate()


def elide_path(path: str, keep: int = 32) -> str:
    """``…/tail/of/the/path`` with at most ``keep`` characters: the label never widens the panel."""
    return path if len(path) <= keep else "…" + path[-(keep - 1):]
