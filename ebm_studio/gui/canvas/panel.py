"""The Langevin canvas: draw or load a seed image and watch it descend the energy.

Playback runs in small time slices on the GUI thread (a QTimer; one sampler step of a few
chains of the small energy net costs a few milliseconds, and each tick stops after ~15 ms), so
the window never freezes. The model is a CPU snapshot handed over by the main window, never the
live model a training worker is updating. The seeds (seeds.py) and the GIF/strip export
(chain_export.py, a job with Cancel) are mixins of their own.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QVBoxLayout,
    QWidget,
)

from ...controller.jobs import JobList
from ...core.families import family
from ...core.playback import ChainPlayer, PlaybackSettings
from .chain_export import ChainExport
from .controls import (
    STRIP_COLS,
    build_playback,
    build_tools,
    build_views,
    chain_config,
    noise_conditional,
    update_guidance_field,
)
from .draw_surface import DrawSurface
from .readout import energy_readout
from .seeds import CanvasSeeds

TICK_BUDGET_S = 0.015
TICK_INTERVAL_MS = 10
MAX_TICK_INTERVAL_MS = 250
WIDE_LAYOUT_PX = 900
NARROW_SURFACE_PX = 240  # from this width on, the plot and chain views sit beside the drawing


def strip_indices(n: int, cols: int) -> np.ndarray:
    """At most ``cols`` frame indices spread evenly over ``n`` frames, always the first and the last."""
    if n <= cols:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, cols)).astype(int))


class CanvasPanel(CanvasSeeds, ChainExport, QWidget):
    message = Signal(str)
    error = Signal(str)
    example_added = Signal(object)  # (28, 28) float32 drawing offered as a few-shot training example

    def __init__(self, parent=None, jobs: JobList | None = None):
        super().__init__(parent)
        self.jobs = jobs if jobs is not None else JobList()  # the window's: its job bar shows the exports
        self._exporting = False
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
        self.head = QWidget()  # the drawing and its energy label
        head = QVBoxLayout(self.head)
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self._build_surface(), 1)
        self.controls = QWidget()  # tools, seeds and playback settings
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addLayout(build_tools(self))
        controls.addWidget(build_playback(self))
        head.addWidget(self.energy_label)
        self.views = QWidget()
        right = QVBoxLayout(self.views)
        right.setContentsMargins(0, 0, 0, 0)
        build_views(self, right)
        self.root = QGridLayout(self)
        self._wide = None
        self._arrange(wide=False)  # narrow first: see resizeEvent
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

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Plot and chain views beside the drawing when there is room; when narrow, drawing, then the
        views, then the controls, one under the other (the dock scrolls vertically instead of hiding
        anything behind a horizontal scrollbar, and drawing and trace are seen together)."""
        self._arrange(event.size().width() >= WIDE_LAYOUT_PX)
        super().resizeEvent(event)

    def _arrange(self, wide: bool) -> None:
        if wide == self._wide:
            return
        self._wide = wide
        for w in (self.head, self.views, self.controls):
            self.root.removeWidget(w)
        if wide:
            self.root.addWidget(self.head, 0, 0)
            self.root.addWidget(self.controls, 1, 0)
            self.root.addWidget(self.views, 0, 1, 2, 1)
            self.root.setColumnStretch(0, 3)
            self.root.setColumnStretch(1, 4)
            self.root.setRowStretch(0, 1)
            self.root.setRowStretch(1, 0)
        else:
            self.root.addWidget(self.head, 0, 0)
            self.root.addWidget(self.views, 1, 0)
            self.root.addWidget(self.controls, 2, 0)
            self.root.setColumnStretch(0, 1)
            self.root.setColumnStretch(1, 0)
            self.root.setRowStretch(0, 0)
            self.root.setRowStretch(1, 1)
        self.views.setMinimumHeight(0 if wide else 420)
        self.surface.setMaximumHeight(16777215 if wide else NARROW_SURFACE_PX)

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
                self.total.set_value(sc.chain_steps())
            else:
                self.step_size.set_value(sc.step_size)
                self.noise.set_value(sc.noise)
            traits = family(cfg.model.family)
            langevin = traits.langevin
            self.anneal.setEnabled(langevin and annealed)
            self.anneal.setChecked(langevin and annealed)
            self.anneal_from.setEnabled(langevin and annealed)
            self._anneal_toggled(self.anneal.isChecked())
            self.plot.setLabel("bottom", traits.step_label.capitalize())
            self.inpaint_guidance.set_value(sc.inpaint_guidance)
            self.progress.setMaximum(max(1, int(self.total.value() or 1)))
        self.mmse_btn.setEnabled(noise_conditional(self))
        update_guidance_field(self)
        self._update_energy_readout()
        self._update_buttons()
        if was_playing and model is not None:
            self.play()

    def set_guide(self, guide) -> None:
        """The class guide of the model shown (None: steering unavailable)."""
        self.guide = guide
        usable = guide is not None and self.cfg is not None and family(self.cfg.model.family).guidable
        self.steer.setEnabled(usable)
        self.steer_weight.setEnabled(usable)
        if not usable:
            self.steer.setCurrentIndex(0)
        self.steer.setToolTip(self.steer.toolTip().split("\n")[0] + ("" if usable else
                              "\nThis model has no class guide: run 'ebm-studio guide RUN' to train one"))

    def _energy_changed(self, *_) -> None:
        """Steering or inpainting's guidance changed the chain's energy."""
        if self.player is not None:  # a different energy: the chain restarts from the current seed
            self.reset_chain()

    def _chain_energy(self):
        digit = self.steer.currentData()
        if digit is None or self.guide is None:
            return self.model
        from ...core.conv.guidance import GuidedEnergy

        weight = self.steer_weight.value()
        return GuidedEnergy(self.model, self.guide, digit, weight if weight is not None else 1.0)

    def set_training_active(self, active: bool) -> None:
        self.training_active = active
        self.training_note.setVisible(active and self.model is not None)

    # --- seeds: see seeds.py ---------------------------------------------------------------
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

    def mmse_denoise(self) -> None:
        """The drawing's least-squares clean digit at the anneal-from level (Tweedie), as the new drawing."""
        sigma = self.anneal_from.value()
        if not self.mmse_btn.isEnabled() or sigma is None:
            return
        import torch

        from ...core.conv.gradient import tweedie_denoise

        self.pause()
        x = torch.from_numpy(np.asarray(self.surface.image, dtype=np.float32).reshape(1, 1, 28, 28))
        out = tweedie_denoise(self.model, x, float(sigma)).clamp(0.0, 1.0)
        self.surface.set_image(out[0, 0].detach().float().numpy(), keep_mask=True)
        self.message.emit(f"MMSE estimate of the clean digit at σ = {sigma:g} (Tweedie); Undo restores the drawing")

    def _drawing_changed(self) -> None:
        self.player = None  # a new seed: the next Play starts from it
        self.pause()
        self.surface.editable = True
        self._clear_views()
        self._update_energy_readout()

    def _update_energy_readout(self) -> None:
        self.energy_label.setText(energy_readout(self))

    def _anneal_toggled(self, on: bool) -> None:
        on = on and self.anneal.isEnabled()
        self.anneal_from.setEnabled(on)
        langevin = self.cfg is not None and family(self.cfg.model.family).langevin
        self.step_size.setEnabled(not on and langevin)
        self.noise.setEnabled(not on and langevin)
        self.player = None

    def _mode_changed(self) -> None:
        self.surface.show_mask = self.mode.currentData() == "inpaint"
        self.surface.update()
        update_guidance_field(self)
        self.player = None

    # --- playback -----------------------------------------------------------------------------
    def _settings(self) -> PlaybackSettings | None:
        vals = [self.step_size.value(), self.noise.value(), self.total.value()]
        anneal = self.anneal.isChecked() and self.anneal.isEnabled()
        top = self.anneal_from.value() if anneal else None
        guidance_invalid = self.inpaint_guidance.isEnabled() and self.inpaint_guidance.value() is None
        if any(v is None for v in vals) or (anneal and top is None) or guidance_invalid:
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
            self.player = ChainPlayer(self._chain_energy(), chain_config(self, mask), self.surface.image,
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
        chainless = has_model and self.cfg is not None and not family(self.cfg.model.family).has_chain
        for b, tip in ((self.play_btn, "Run the chains at the chosen speed (pause any time)"),
                       (self.step_btn, "Advance every chain by exactly one sampler step")):
            b.setEnabled(has_model and not chainless)
            b.setToolTip(tip if has_model and not chainless else "Load or train a model first" if not has_model
                         else f"A {self.cfg.model.family} is a baseline, not an energy model: it draws samples in "
                              "one pass from its latent prior (see Samples), with no chain to watch")
        has_chain = self.player is not None
        self.keep_btn.setEnabled(has_chain)
        for b in (self.gif_btn, self.strip_btn):
            b.setEnabled(has_chain and not self._exporting)

    def shutdown(self) -> None:
        self.pause()
