"""Jobs with progress and Cancel, and the state the window must never leave stale."""

import time

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui

TINY = {"model.width": 4, "train.batch_size": 16, "sampler.steps": 3, "train.buffer_size": 64, "data.limit": 256,
        "train.lr": 1e-3}


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "discard")
    w.training.set_config(RunConfig().with_overrides(**TINY))
    w.training.budget_kind.setCurrentText("unlimited")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_generate_shows_progress_and_cancel_returns_within_a_step(win, qtbot):
    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.width": 8})
    win.set_current_model(build_model(cfg).eval(), cfg)
    win.samples.n.set_value(64)
    win.samples.steps.set_value(50_000)
    win.samples.generate()
    bar = win.status.job_bar
    qtbot.waitUntil(lambda: len(win.controller.jobs) == 1 and (bar.current().done or 0) > 2, timeout=20000)
    bar.refresh()
    assert bar.isVisible() and "generating" in bar.label.text() and "left" in bar.label.text()
    t0 = time.monotonic()
    bar.cancel_btn.click()
    qtbot.waitUntil(lambda: len(win.controller.jobs) == 0, timeout=5000)
    assert time.monotonic() - t0 < 2.0
    assert not bar.isVisible() and win.samples.generate_btn.isEnabled()
    assert len(win.samples.samples) == 0  # nothing half-done is shown as samples


def test_evaluate_scores_the_models_own_samples_not_the_live_view(win, qtbot, monkeypatch):
    import ebm_studio.core.quality as quality
    from ebm_studio.core.families import build_model
    from ebm_studio.core.quality import MeterProgress, QualityReport

    scored = []

    class Meter:
        def evaluate(self, samples):
            scored.append(samples.copy())
            return QualityReport(n=len(samples), fid=1.0, confidence=0.9, coverage_bits=3.0, nn_distance=4.0,
                                 unsure=0.1)

        def evaluate_steps(self, samples):
            yield MeterProgress(1, 1, self.evaluate(samples))

    monkeypatch.setattr(quality, "load_meter", lambda: Meter())
    cfg = RunConfig().with_overrides(**{"model.width": 4})
    win.set_current_model(build_model(cfg).eval(), cfg)
    live = np.full((8, 28, 28), 0.5, np.float32)  # stands for DSM's denoised training digits
    win.samples.show_negatives(live, cfg)
    assert "NOT samples of the model" in win.samples.caption.text()
    win.samples.n.set_value(4)
    win.samples.steps.set_value(5)
    win.samples.evaluate()
    qtbot.waitUntil(lambda: bool(scored) and "FID" in win.samples.report.text(), timeout=20000)
    assert scored[0].shape == (4, 28, 28) and not np.allclose(scored[0], 0.5)  # fresh chains, not the live view


def test_while_paused_only_resume_is_offered_and_stop_clears_the_speed(win, qtbot):
    win.start()
    qtbot.waitUntil(lambda: win.charts.n_points >= 3, timeout=20000)
    win.toggle_pause()
    qtbot.waitUntil(lambda: win.state == "paused", timeout=5000)
    assert not win.start_action.isEnabled() and win.pause_action.text() == "Resume"
    assert win.rate_label.text() == ""
    win.stop()
    assert win.rate_label.text() == "" and win.state == "stopped"
    step = win.controller.step
    win.reset()
    assert win.step_label.text() == "step –" and step > 0


def test_opening_a_model_keeps_the_chosen_drawings_dataset(win, tmp_path):
    from ebm_studio.core.checkpoint import save_run
    from ebm_studio.core.families import build_model

    win.canvas.surface.set_image(np.random.rand(28, 28).astype(np.float32))
    win.canvas.add_example()
    folder = str(win.examples_dir)
    cfg = RunConfig().with_overrides(**{"model.width": 4})
    save_run(tmp_path / "a", build_model(cfg), cfg)
    assert win.open_path(str(tmp_path / "a"))
    assert win.training.data_source == folder and win.controller.dataset == folder
    assert win.open_path("pretrained:conv")
    assert win.training.data_source == folder


def test_restore_default_layout_really_restores(win, qtbot):
    default = win.size()
    win.log_dock.setFloating(True)
    win.training_dock.hide()
    win.resize(default.width() + 300, default.height())
    win.restore_default_layout()
    qtbot.wait(50)
    assert not win.log_dock.isFloating() and win.training_dock.isVisible()
    assert win.width() <= default.width() + 1


def test_opening_from_the_menus_is_a_job_and_shows_the_model(win, qtbot):
    action = next(a for a in win.pretrained_menu.actions() if a.text() == "rbm")
    action.trigger()
    assert len(win.controller.jobs) == 1  # the window keeps painting; the job bar shows it
    qtbot.waitUntil(lambda: len(win.controller.jobs) == 0, timeout=20000)
    assert win.model_cfg.model.family == "rbm" and win.controller.shown.origin == "pretrained"
    assert win.samples.caption.text().startswith("100 samples of the shipped model")
    record = win.open_in_background("pretrained:conv")
    record.cancel()
    qtbot.waitUntil(lambda: len(win.controller.jobs) == 0, timeout=20000)
    assert win.model_cfg.model.family == "rbm"  # a cancelled open changes nothing
