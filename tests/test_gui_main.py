"""The studio window, driven offscreen with pytest-qt."""

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui

TINY = {"model.width": 4, "train.batch_size": 16, "sampler.steps": 3, "train.buffer_size": 64, "data.limit": 256,
        "train.lr": 1e-3}


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, load_pretrained=False, restore_state=False, confirm_close=lambda: "discard")
    w.training.set_config(RunConfig().with_overrides(**TINY))
    w.training.budget_kind.setCurrentText("unlimited")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.confirm_close = lambda: "discard"
    w.close()
    assert w.thread is None or not w.thread.isRunning()


def _points(w):
    return w.charts.n_points


def test_start_pause_resume_stop(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 5, timeout=20000)
    window.toggle_pause()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=5000)
    n = _points(window)
    qtbot.wait(600)
    assert _points(window) == n, "steps kept arriving while paused"
    window.toggle_pause()
    qtbot.waitUntil(lambda: _points(window) > n + 2, timeout=10000)
    thread = window.thread
    window.stop()
    assert window.worker is None and not thread.isRunning()
    assert window.state == "stopped"
    assert (window.session.run_dir / "model.safetensors").exists()  # a stopped run is saved


def test_step_while_paused_advances_exactly_one(window, qtbot):
    window.step()  # from idle: starts a paused run and does one step
    qtbot.waitUntil(lambda: _points(window) == 1, timeout=20000)
    qtbot.wait(300)
    assert _points(window) == 1
    window.step()
    qtbot.waitUntil(lambda: _points(window) == 2, timeout=10000)
    qtbot.wait(300)
    assert _points(window) == 2
    assert window.session.trainer.step == 2


def test_invalid_input_disables_start(window, qtbot):
    assert window.start_action.isEnabled()
    window.training.lr.setText("nan")
    assert not window.start_action.isEnabled()
    assert "learning rate" in window.training.message.text()
    window.training.lr.setText("-1")
    assert not window.start_action.isEnabled()
    window.training.lr.setText("0.001")
    assert window.start_action.isEnabled()
    for cb in window.training.digit_boxes:
        cb.setChecked(False)
    assert not window.start_action.isEnabled()


def test_live_settings_reach_the_trainer(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 2, timeout=20000)
    window.training.lr.setText("0.0005")
    window.training.lr.editingFinished.emit()
    qtbot.waitUntil(lambda: window.session.trainer.lr == 0.0005, timeout=10000)
    window.stop()


def test_export_grid_png_size(window, qtbot, tmp_path):
    from PIL import Image

    window.samples.show_samples(np.random.rand(12, 28, 28).astype(np.float32), "test")
    out = tmp_path / "grid.png"
    size = window.samples.export(str(out), rows=3, cols=4, scale=2, title=False)
    assert Image.open(out).size == size == ((4 * 28 + 5 * 2) * 2, (3 * 28 + 4 * 2) * 2)


def test_open_save_roundtrip(window, qtbot, tmp_path):
    window.step()
    qtbot.waitUntil(lambda: _points(window) == 1, timeout=20000)
    window.stop()
    target = tmp_path / "saved"
    assert window.save_checkpoint(str(target))
    saved_cfg = window.session.cfg
    window.reset()
    window.training.lr.setText("0.01")
    assert window.open_path(str(target))
    assert window.training.config().train.lr == saved_cfg.train.lr
    assert window.training.config().model == saved_cfg.model
    assert window.model is not None and _points(window) == 1
    assert str(target) in window._recent()


def test_open_corrupt_run_shows_error_and_keeps_running(window, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.toml").write_text("[model]\nfamily='conv'\n")
    (bad / "model.safetensors").write_bytes(b"junk" * 10)
    assert not window.open_path(str(bad))
    assert "model.safetensors" in window.last_error


def test_close_mid_training_saves_and_joins(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "save")
    w.training.set_config(RunConfig().with_overrides(**TINY))
    w.training.budget_kind.setCurrentText("unlimited")
    w.show()
    w.start()
    qtbot.waitUntil(lambda: _points(w) >= 2, timeout=20000)
    thread = w.thread
    w.close()
    assert not thread.isRunning()
    assert (w.session.run_dir / "model.safetensors").exists()
    assert (w.session.run_dir / "trainer.safetensors").exists()


def test_screenshot(window, qtbot, tmp_path):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 3, timeout=20000)
    window.stop()
    out = tmp_path / "studio.png"
    assert window.grab().save(str(out))
    from PIL import Image

    img = np.asarray(Image.open(out).convert("L"))
    assert img.shape[0] > 300 and img.std() > 10  # a real picture, not a blank
