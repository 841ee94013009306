"""The window fits a laptop screen and never grows by itself; small defects stay fixed."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from ebm_studio.core.config import RunConfig
from ebm_studio.core.models_io import available_pretrained

pytestmark = pytest.mark.gui


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "discard")
    qtbot.addWidget(w)
    w.resize(1366, 740)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_minimum_size_fits_1366x768_and_1280x800(win, qtbot):
    hint = win.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768 - 40, hint
    assert win.open_path("pretrained:rbm")  # the widest family views (receptive fields, Reconstruct)
    hint = win.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 800 - 40, hint


def test_hover_models_drawings_and_long_paths_do_not_widen_the_window(win, qtbot, tmp_path):
    width = win.width()
    win.charts.add_records([{"step": i, "epoch": i / 10, "loss": 1.0 / (i + 1), "grad_norm": 2.0, "e_data": -1.5,
                             "e_samples": 3.25, "event": None} for i in range(1, 400)])
    qtbot.wait(100)
    win.charts.show_readout(200.0)  # the hover read-out: the longest text the charts show
    qtbot.mouseMove(win.charts.glw.viewport(), QPoint(200, 100))
    qtbot.wait(50)
    assert win.width() == width
    for name in available_pretrained():
        assert win.open_path(f"pretrained:{name}")
        qtbot.wait(50)
        assert win.width() == width, name
    for i in range(3):
        win.canvas.surface.set_image(np.random.rand(28, 28).astype(np.float32))
        win.canvas.add_example()
    long = tmp_path / ("a-very-long-folder-name-of-drawings-" * 6)
    long.mkdir()
    win.training._set_source(str(long))
    qtbot.wait(50)
    assert win.width() == width
    assert win.training.data_button.isVisible() and win.training.data_reset.isVisible()
    assert win.training.data_label.toolTip() == str(long)
    win.restore_default_layout()
    assert win.width() <= 1366


def test_noisy_mnist_through_a_real_click_adds_noise(win, qtbot):
    from PySide6.QtWidgets import QPushButton

    button = next(b for b in win.canvas.findChildren(QPushButton) if b.text() == "Noisy MNIST")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    img = win.canvas.surface.image
    grey = float(((img > 0.05) & (img < 0.95)).mean())
    assert grey > 0.3, grey  # sigma 0.35 of Gaussian noise: most pixels are grey (a clean digit: ~11 %)


def test_shortcuts_dialog_shows_no_mnemonic_ampersands(win):
    box = win.show_shortcuts()
    text = box.text()
    box.close()
    assert "Open run folder" in text and "&amp;O" not in text and "&O" not in text
    assert "Space" in text


def test_space_and_right_play_and_step_the_canvas(win, qtbot):
    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.width": 4})
    win.set_current_model(build_model(cfg).eval(), cfg)
    win.canvas.seed_mnist()
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Right)
    assert win.canvas.player is not None and win.canvas.player.step_index == 1
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.canvas.timer.isActive()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert not win.canvas.timer.isActive()


def test_canvas_progress_band_and_label_are_never_stale(win, qtbot):
    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.width": 4})
    win.set_current_model(build_model(cfg).eval(), cfg)
    c = win.canvas
    assert c.progress.maximum() == int(c.total.value())  # "step 0 / the total that will run"
    c.seed_mnist()
    for _ in range(3):
        c.step()
    assert c.band.isVisible()
    p = c.player
    assert f"{p.energies[-1][0]:+.3f}" in c.energy_label.text()  # the label is the trace's last point
    assert "σ =" in c.energy_label.text()
    c.reset_chain()
    assert not c.band.isVisible() and c.progress.value() == 0
    c.clear()
    assert "blank" in c.energy_label.text()  # a blank canvas is never ranked digit-like


def test_status_bar_follows_the_model_shown(win, qtbot, tmp_path):
    from ebm_studio.core.checkpoint import MetricsLog, save_run
    from ebm_studio.core.families import build_model
    from ebm_studio.core.trainer import CSV_FIELDS

    cfg = RunConfig().with_overrides(**{"model.width": 4})
    save_run(tmp_path / "a", build_model(cfg), cfg)
    log = MetricsLog(tmp_path / "a" / "metrics.csv", CSV_FIELDS)
    log.append({"step": 777, "epoch": 1.0, "loss": 0.1, "grad_norm": 1.0, "e_data": 0.0, "e_samples": 0.0})
    log.flush()
    assert win.open_path(str(tmp_path / "a"))
    assert "777" in win.step_label.text()
    win.samples.show_samples(np.random.rand(4, 28, 28).astype(np.float32), "4 samples", "model")
    rbm = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [8]})
    save_run(tmp_path / "b", build_model(rbm), rbm)
    assert win.open_path(str(tmp_path / "b"))
    assert win.step_label.text() == "step –" and win.rate_label.text() == ""
    assert len(win.samples.samples) == 0 and win.samples.report.text() == ""
    assert win.charts.plots[0].vb.viewRange()[0][1] < 100  # no axes of the previous run


def test_one_thread_is_not_threads(monkeypatch):
    import torch

    from ebm_studio.core.device import describe_device

    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device(torch.device("cpu")) == "cpu (1 thread)"


def test_grid_export_text_is_ascii_with_the_steps_run_and_labels_clear_of_the_next_row(win, tmp_path):
    from PIL import Image

    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.width": 4})
    win.set_current_model(build_model(cfg).eval(), cfg)
    steps = cfg.sampler.total_steps()
    win.samples.show_samples(np.zeros((12, 28, 28), np.float32), f"12 samples from uniform noise, {steps} steps",
                             "model", steps)
    title = win.samples.export_title()
    assert title.isascii() and f"{steps} steps" in title and "sigma" in title
    out = tmp_path / "g.png"
    w, h = win.samples.export(str(out), rows=3, cols=4, scale=2, labels=True, title=True)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    yellow = (img[..., 0] > 200) & (img[..., 1] > 150) & (img[..., 2] < 140)
    rows_with_labels = [y for y in range(h) if yellow[y].any()]
    bands = 1 + sum(1 for a, b in zip(rows_with_labels, rows_with_labels[1:]) if b - a > 1)
    assert bands >= 3  # every row's energy labels are visible, none covered by the row below


def test_an_opened_rbm_run_shows_its_own_recipe_not_dsm(win, tmp_path):
    from ebm_studio.core.checkpoint import save_run
    from ebm_studio.core.families import build_model
    from ebm_studio.core.presets import preset_config

    rbm = preset_config("rbm").with_overrides(**{"model.hidden": [8]})
    save_run(tmp_path / "r", build_model(rbm), rbm)
    assert win.open_path(str(tmp_path / "r"))
    assert win.training.preset.currentText() == "rbm" and win.training.family.currentData() == "rbm"


def test_hover_crosshair_goes_when_the_mouse_leaves(win, qtbot):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    win.charts.add_records([{"step": i, "epoch": 0.0, "loss": 1.0, "grad_norm": 1.0, "e_data": 0.0,
                             "e_samples": 0.0, "event": None} for i in range(1, 50)])
    win.charts.show_readout(20.0)
    assert all(line.isVisible() for line in win.charts._vlines) and "step 20" in win.charts.readout.text()
    QApplication.sendEvent(win.charts.glw.viewport(), QEvent(QEvent.Type.Leave))
    assert not any(line.isVisible() for line in win.charts._vlines)
    assert "hover a chart" in win.charts.readout.text()
