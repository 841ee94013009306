"""The Langevin canvas, driven with real mouse events offscreen."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from toy_energies import TemplateEnergy

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui


def cfg():
    return RunConfig().with_overrides(**{"sampler.schedule": "constant", "sampler.step_size": 0.05,
                                         "sampler.noise": 0.01, "sampler.grad_clip": 0.0})


@pytest.fixture
def panel(qtbot):
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    p.set_model(TemplateEnergy(), cfg())
    return p


def _send(widget, kind, pos, button, buttons):
    ev = QMouseEvent(kind, QPointF(pos), widget.mapToGlobal(QPointF(pos)), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def _pixel_center(surface, row, col):
    r = surface.pixel_rect()
    cell = r.width() / 28
    return QPointF(r.left() + (col + 0.5) * cell, r.top() + (row + 0.5) * cell)


def test_mouse_stroke_draws_expected_pixels_and_undo(panel):
    s = panel.surface
    assert s.image.sum() == 0
    a, b = _pixel_center(s, 5, 4), _pixel_center(s, 5, 20)
    _send(s, QEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for t in np.linspace(0, 1, 8):
        _send(s, QEvent.Type.MouseMove, a + (b - a) * float(t), Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    _send(s, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    assert s.image[5, 4:21].min() > 0.5  # the stroke's row is inked all along
    assert s.image[15:, :].max() == 0.0  # far rows untouched
    assert s.drawn_mask[5, 10]
    # moving without a button held draws nothing
    before = s.image.copy()
    _send(s, QEvent.Type.MouseMove, _pixel_center(s, 20, 20), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    assert np.array_equal(before, s.image)
    panel.undo()
    assert s.image.sum() == 0
    panel.redo()
    assert s.image[5, 10] > 0.5


def test_mapping_follows_widget_size(panel):
    s = panel.surface
    s.resize(300, 500)  # a non-square widget: the grid is centred vertically
    r, c = s.to_pixel(_pixel_center(s, 27, 0))
    assert int(r) == 27 and int(c) == 0


def test_load_large_rgb_image(panel, tmp_path):
    from PIL import Image

    img = Image.new("RGB", (900, 600), (250, 250, 250))
    for y in range(100, 500):  # a dark, off-centre vertical stroke
        for x in range(600, 640):
            img.putpixel((x, y), (10, 10, 10))
    path = tmp_path / "photo.jpg"
    img.save(path)
    assert panel.load_image(str(path))
    a = panel.surface.image
    assert a.shape == (28, 28)
    assert a[0, 0] == 0.0 and a.max() > 0.9  # white-on-black
    ys, xs = np.nonzero(a > 0.5)
    assert abs(ys.mean() - 13.5) < 1.5 and abs(xs.mean() - 13.5) < 1.5  # centred by mass
    assert ys.max() - ys.min() <= 20


def test_bad_file_leaves_canvas_unchanged(panel, tmp_path):
    panel.seed_mnist()
    before = panel.surface.image.copy()
    bad = tmp_path / "fake.png"
    bad.write_bytes(b"definitely not a png")
    assert not panel.load_image(str(bad))
    assert np.array_equal(before, panel.surface.image)
    assert "not a readable image" in panel.last_error


def test_step_adds_one_energy_point_and_energy_falls(panel):
    panel.seed_noise()
    panel.chains.setValue(4)
    assert panel.step()
    assert len(panel.player.energies) == 2 and panel.player.step_index == 1
    for _ in range(60):
        panel.step()
    trace = panel.player.energy_trace().mean(1)
    assert len(trace) == 62
    assert trace[-1] < 0.5 * trace[0]
    assert np.mean(np.diff(trace) < 0) > 0.8


def test_inpainting_keeps_clamped_pixels(panel):
    s = panel.surface
    panel.mode.setCurrentIndex(panel.mode.findData("inpaint"))
    s.set_image(np.zeros((28, 28), np.float32))
    s.paint_at(3, 3)
    s.paint_at(24, 24)
    s.changed.emit()
    drawn = s.drawn_mask.copy()
    seed = s.image.copy()
    for _ in range(30):
        panel.step()
    cur = panel.player.current
    assert np.array_equal(cur[:, drawn], np.broadcast_to(seed[drawn], cur[:, drawn].shape))
    assert not np.array_equal(cur[:, ~drawn], np.broadcast_to(seed[~drawn], cur[:, ~drawn].shape))


def test_play_runs_in_time_slices_and_stops(panel, qtbot):
    panel.total.set_value(40)
    panel.speed.setValue(100)
    panel.seed_noise()
    panel.play()
    qtbot.waitUntil(lambda: panel.player is not None and panel.player.done, timeout=10000)
    assert not panel.timer.isActive()
    assert panel.player.step_index == 40


def test_gif_and_strip_export(panel, tmp_path):
    from PIL import Image

    panel.every.setValue(5)
    panel.seed_noise()
    for _ in range(20):
        panel.step()
    n = panel.export_gif(str(tmp_path / "c.gif"))
    assert n == 5  # steps 0, 5, 10, 15, 20
    assert Image.open(tmp_path / "c.gif").n_frames == 5
    w, h = panel.export_strip(str(tmp_path / "c.png"))
    assert Image.open(tmp_path / "c.png").size == (w, h)


def test_no_model_disables_play(qtbot):
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    assert not p.play_btn.isEnabled()
    p.play()
    assert "no model" in p.last_error


def test_annealed_playback_for_noise_conditional_models(qtbot):
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    annealed = RunConfig().with_overrides(**{"sampler.sigma_max": 1.0, "sampler.sigma_min": 0.05,
                                             "sampler.levels": 5, "sampler.eps": 2e-3,
                                             "sampler.schedule": "annealed"})
    p.set_model(TemplateEnergy(), annealed)
    assert p.anneal.isChecked() and not p.step_size.isEnabled()
    p.total.set_value(26)
    p.anneal_from.set_value(0.5)
    p.seed_noise()
    for _ in range(26):
        p.step()
    sched = p.player._schedule()
    assert len(sched) == 26 and sched[-1] == (0.05, 0.0, 0.05)  # ends with the noise-free denoising step
    assert sched[0][1] > sched[-2][1]  # noise cools down
    trace = p.player.energy_trace().mean(1)
    assert trace[-1] < 0.5 * trace[0]


def _drop(widget, path):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))


def test_drag_and_drop_loads_image_and_rejects_bad_file(panel, tmp_path):
    from PIL import Image

    img = Image.new("L", (300, 300), 0)
    for y in range(40, 260):
        for x in range(140, 170):
            img.putpixel((x, y), 255)
    good = tmp_path / "bar.png"
    img.save(good)
    _drop(panel.surface, good)
    loaded = panel.surface.image.copy()
    assert loaded.max() > 0.9 and loaded[:, 13:15].mean() > loaded[:, :5].mean() + 0.3
    bad = tmp_path / "notes.bmp"
    bad.write_text("hello")
    _drop(panel.surface, bad)
    assert np.array_equal(panel.surface.image, loaded) and panel.last_error


def test_canvas_is_read_only_while_a_chain_is_shown_until_reset_or_new_seed(panel, qtbot):
    s = panel.surface
    panel.seed_noise()
    for _ in range(3):
        panel.step()
    seed = s.image.copy()
    with qtbot.waitSignal(panel.message, timeout=1000) as hint:
        _send(s, QEvent.Type.MouseButtonPress, _pixel_center(s, 14, 14), Qt.MouseButton.LeftButton,
              Qt.MouseButton.LeftButton)
    assert "Reset to seed" in hint.args[0] and np.array_equal(s.image, seed)
    panel.clear()  # a new seed: drawing works again
    assert panel.player is None and s.display is None
    _send(s, QEvent.Type.MouseButtonPress, _pixel_center(s, 14, 14), Qt.MouseButton.LeftButton,
          Qt.MouseButton.LeftButton)
    _send(s, QEvent.Type.MouseButtonRelease, _pixel_center(s, 14, 14), Qt.MouseButton.LeftButton,
          Qt.MouseButton.NoButton)
    assert s.image[14, 14] > 0.5


def test_keep_as_seed_takes_the_chain_state_and_is_undoable(panel):
    panel.seed_noise()
    drawing = panel.surface.image.copy()
    for _ in range(10):
        panel.step()
    state = panel.player.current[0].copy()
    panel.keep_as_seed()
    assert np.allclose(panel.surface.image, np.clip(state, 0, 1)) and panel.player is None
    assert panel.surface.editable and panel.progress.value() == 0
    panel.undo()
    assert np.array_equal(panel.surface.image, drawing)


def test_new_weights_keep_the_users_playback_settings(panel):
    panel.step_size.set_value(0.2)
    panel.total.set_value(33)
    panel.set_model(TemplateEnergy(), cfg())  # a fresh snapshot of the same recipe (training paused again)
    assert panel.step_size.value() == 0.2 and panel.total.value() == 33
    other = cfg().with_overrides(**{"sampler.step_size": 0.07})
    panel.set_model(TemplateEnergy(), other)  # another recipe: its sampler settings
    assert panel.step_size.value() == 0.07


def test_training_note_follows_training_state(panel):
    panel.set_training_active(True)
    assert panel.training_note.isVisible()
    panel.set_training_active(False)
    assert not panel.training_note.isVisible()


def test_boltzmann_machine_in_the_canvas(qtbot):
    from ebm_studio.core.families import build_model
    from ebm_studio.gui.canvas import CanvasPanel

    rbm_cfg = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [16]})
    p = CanvasPanel()
    qtbot.addWidget(p)
    p.set_model(build_model(rbm_cfg), rbm_cfg)
    assert not p.step_size.isEnabled()  # Gibbs sweeps have no step size
    assert "Gibbs" in p.plot.getPlotItem().getAxis("bottom").labelText
    p.mode.setCurrentIndex(p.mode.findData("inpaint"))
    p.surface.paint_at(10, 10)
    p.surface.changed.emit()
    drawn, seed = p.surface.drawn_mask.copy(), p.surface.image.copy()
    for _ in range(4):
        assert p.step()
    assert p.player.energy_trace().shape[0] == 5
    assert np.array_equal(p.player.current[:, drawn], np.broadcast_to(seed[drawn], p.player.current[:, drawn].shape))


def test_strip_indices_span_first_to_last():
    from ebm_studio.gui.canvas.panel import strip_indices

    assert list(strip_indices(5, 12)) == [0, 1, 2, 3, 4]
    idx = strip_indices(41, 12)
    assert len(idx) == 12 and idx[0] == 0 and idx[-1] == 40 and np.all(np.diff(idx) > 0)


HIDPI_SCRIPT = """
import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from ebm_studio.gui.canvas.draw_surface import DrawSurface
app = QApplication([])
s = DrawSurface(); s.resize(400, 300); s.show(); app.processEvents()
r = s.pixel_rect(); cell = r.width() / 28
pos = QPointF(r.left() + 20.5 * cell, r.top() + 3.5 * cell)
for kind, b, bs in [(QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton),
                    (QEvent.Type.MouseButtonRelease, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)]:
    QApplication.sendEvent(s, QMouseEvent(kind, pos, s.mapToGlobal(pos), b, bs, Qt.KeyboardModifier.NoModifier))
row, col = np.unravel_index(s.image.argmax(), s.image.shape)
print("RESULT", s.devicePixelRatioF(), row, col, s.grab().toImage().width())
"""


def test_mouse_mapping_on_a_hidpi_screen():
    """Under a 2x device-pixel ratio the click lands on the same grid pixel (a fresh process)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2")
    out = subprocess.run([sys.executable, "-c", HIDPI_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, out.stderr
    dpr, row, col, grabbed_width = line[0].split()[1:]
    assert float(dpr) == 2.0 and (int(row), int(col)) == (3, 20)
    assert int(grabbed_width) == 800  # drawn at device resolution, not upscaled from 400 px


class SlowEnergy(TemplateEnergy):
    """The template energy, but every evaluation takes 40 ms (a big model on a slow machine)."""

    def forward(self, x):
        import time

        time.sleep(0.04)
        return super().forward(x)


def test_slow_steps_back_off_the_timer_so_input_still_flows(qtbot):
    from ebm_studio.gui.canvas import CanvasPanel
    from ebm_studio.gui.canvas.panel import TICK_INTERVAL_MS

    p = CanvasPanel()
    qtbot.addWidget(p)
    p.set_model(SlowEnergy(), cfg())
    p.speed.setValue(100)
    p.total.set_value(6)
    p.seed_noise()
    p.play()
    qtbot.waitUntil(lambda: p.player.step_index >= 2, timeout=10000)
    assert p.timer.interval() >= 40 > TICK_INTERVAL_MS  # waits at least as long as a tick took
    qtbot.waitUntil(lambda: p.player.done, timeout=10000)
    assert not p.timer.isActive()


def test_steering_toward_a_digit_uses_the_class_guide(qtbot):
    from ebm_studio.core.conv.guidance import GuidedEnergy, NoisyDigitClassifier
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    p.set_model(TemplateEnergy(), cfg())
    p.set_guide(None)
    assert not p.steer.isEnabled()
    p.set_guide(NoisyDigitClassifier(4))
    assert p.steer.isEnabled()
    p.steer.setCurrentIndex(p.steer.findData(7))
    p.seed_noise()
    assert p.step()
    assert isinstance(p.player.model, GuidedEnergy) and p.player.model.digit == 7
    p.steer.setCurrentIndex(0)  # back to free sampling: the chain restarts on the plain energy
    assert p.step()
    assert p.player.model is p.model


def test_ancestral_models_play_sdedit_from_the_drawing(qtbot):
    """Noise the seed to the chosen level, then reverse the noising down to sigma_min."""
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    ancestral = RunConfig().with_overrides(**{"sampler.sigma_max": 1.0, "sampler.sigma_min": 0.05,
                                              "sampler.levels": 10, "sampler.steps_per_level": 2})
    p.set_model(TemplateEnergy(), ancestral)
    assert p.anneal.isChecked()
    p.total.set_value(21)
    p.anneal_from.set_value(0.5)
    p.seed_noise()
    for _ in range(21):
        p.step()
    sched = p.player._schedule()
    assert sched[0] == (0.0, 0.5, 0.5)  # first the seed is noised to the chosen level
    assert sched[-1][1] == 0.0 and sched[-1][2] < 0.1  # ends on a noise-free step at the finest level
    x = p.player.current
    assert x.min() >= 0.0 and x.max() <= 1.0
    trace = p.player.energy_trace().mean(1)
    assert trace[-1] < 0.5 * trace[1]  # after the noise injection the chain descends


def test_the_mmse_button_replaces_the_drawing_by_tweedies_estimate_and_undo_restores_it(qtbot):
    from toy_energies import GaussianEnergy

    from ebm_studio.core.presets import preset_config
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    p.show()
    p.set_model(TemplateEnergy(), cfg())
    assert not p.mmse_btn.isEnabled()  # a plain E(x) has no score of noisy images
    p.set_model(GaussianEnergy(0.5, 0.1), preset_config("cd"))
    assert p.mmse_btn.isEnabled()
    noisy = np.clip(0.5 + 0.3 * np.random.default_rng(0).standard_normal((28, 28)), 0, 1).astype(np.float32)
    p.surface.set_image(noisy)
    p.anneal_from.set_value(0.3)
    p.mmse_btn.click()
    # for N(0.5, 0.1^2) data the estimate shrinks toward 0.5 by 0.1^2 / (0.1^2 + 0.3^2) = 0.1
    expected = 0.5 + (noisy - 0.5) * 0.1
    assert np.allclose(p.surface.image, expected, atol=1e-4)
    p.undo()
    assert np.allclose(p.surface.image, noisy)


def test_inpaint_guidance_field_sets_the_chains_weight(qtbot, monkeypatch):
    """The field starts at the run's sampler.inpaint_guidance, applies only to inpainting with a
    noise-conditional energy, and its value is the weight the masked chain is guided with."""
    from toy_energies import GaussianEnergy

    import ebm_studio.core.conv.sampler as conv_sampler
    from ebm_studio.core.presets import preset_config
    from ebm_studio.gui.canvas import CanvasPanel

    weights = []
    real = conv_sampler.guided_for_mask

    def spy(model, mask, weight):
        weights.append(weight)
        return real(model, mask, weight)

    monkeypatch.setattr(conv_sampler, "guided_for_mask", spy)
    p = CanvasPanel()
    qtbot.addWidget(p)
    p.set_model(TemplateEnergy(), cfg())
    p.mode.setCurrentIndex(p.mode.findData("inpaint"))
    assert not p.inpaint_guidance.isEnabled()  # a plain E(x): nothing to guide
    dsm = preset_config("dsm").with_overrides(**{"sampler.inpaint_guidance": 3.0})
    p.set_model(GaussianEnergy(0.5, 0.2), dsm)
    assert p.inpaint_guidance.isEnabled() and p.inpaint_guidance.value() == 3.0
    p.mode.setCurrentIndex(p.mode.findData("free"))
    assert not p.inpaint_guidance.isEnabled()
    p.mode.setCurrentIndex(p.mode.findData("inpaint"))
    p.total.set_value(4)
    p.surface.paint_at(3, 3)
    p.surface.changed.emit()
    assert p.step()
    assert weights[-1] == 3.0
    p.inpaint_guidance.set_value(11.0)
    p.inpaint_guidance.value_edited.emit()
    assert p.player is None  # the chain starts again with the new energy
    assert p.step()
    assert weights[-1] == 11.0 and p.player.cfg.sampler.inpaint_guidance == 11.0
    assert p.cfg.sampler.inpaint_guidance == 3.0  # the run's own config is left as it was
