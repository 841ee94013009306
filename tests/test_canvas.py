"""The Langevin canvas, driven with real mouse events offscreen."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from torch import nn

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui


class TemplateEnergy(nn.Module):
    """A hand-made energy: squared distance to a fixed 'digit' (a vertical bar)."""

    def __init__(self):
        super().__init__()
        t = torch.zeros(1, 1, 28, 28)
        t[..., 6:22, 12:16] = 1.0
        self.register_buffer("template", t)

    def forward(self, x):
        return ((x - self.template) ** 2).flatten(1).sum(1)


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
                                             "sampler.levels": 5, "sampler.eps": 2e-3})
    p.set_model(TemplateEnergy(), annealed)
    assert p.anneal.isChecked() and not p.step_size.isEnabled()
    p.total.set_value(26)
    p.anneal_from.set_value(0.5)
    p.seed_noise()
    for _ in range(26):
        p.step()
    sched = p.player._schedule()
    assert len(sched) == 26 and sched[-1] == (0.05, 0.0)  # ends with the noise-free denoising step
    assert sched[0][1] > sched[-2][1]  # noise cools down
    trace = p.player.energy_trace().mean(1)
    assert trace[-1] < 0.5 * trace[0]
