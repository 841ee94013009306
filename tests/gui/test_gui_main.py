"""The studio window, driven offscreen with pytest-qt (tiny nets, 256 images, a few steps)."""

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui

TINY = {"model.width": 4, "train.batch_size": 16, "sampler.steps": 3, "train.buffer_size": 64, "data.limit": 256,
        "train.lr": 1e-3}


def make_window(tmp_path, monkeypatch, confirm="discard", restore=False, settings_name="settings.ini"):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / settings_name), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, load_pretrained=False, restore_state=restore, confirm_close=lambda: confirm)
    if not restore:
        w.training.set_config(RunConfig().with_overrides(**TINY))
        w.training.budget_kind.setCurrentText("unlimited")
    return w


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = make_window(tmp_path, monkeypatch)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.confirm_close = lambda: "discard"
    w.close()
    assert _thread_done(w.thread)


def _points(w):
    return w.charts.n_points


def _thread_done(thread) -> bool:
    """True once the QThread has finished (or was already deleted, which only happens after)."""
    import shiboken6

    return thread is None or not shiboken6.isValid(thread) or thread.isFinished()


# --- run controls ---------------------------------------------------------------------------------
def test_start_pause_resume_stop(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 5, timeout=20000)
    assert window.state == "running"
    window.toggle_pause()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=5000)
    n = _points(window)
    qtbot.wait(600)
    assert _points(window) == n, "steps kept arriving while paused"
    assert window.session.trainer.step == n
    window.toggle_pause()
    qtbot.waitUntil(lambda: _points(window) > n + 2, timeout=10000)
    thread = window.thread
    window.stop()
    assert window.worker is None and _thread_done(thread)
    assert window.state == "stopped"
    assert (window.session.run_dir / "model.safetensors").exists()  # a stopped run is saved
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()


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
    assert window.state == "paused"
    assert window.model is not None  # each single step hands the canvas/gallery a fresh copy


def test_toolbar_stop_does_not_block_and_the_thread_ends(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 2, timeout=20000)
    thread = window.thread
    window.stop_action.trigger()  # returns at once; the worker stops after the current step
    assert window.state in ("stopping", "stopped")
    assert not window.stop_action.isEnabled()
    qtbot.waitUntil(lambda: window.worker is None and window.state == "stopped", timeout=10000)
    assert _thread_done(thread)


def test_budget_in_steps_ends_the_run_by_itself(window, qtbot):
    window.training.budget_kind.setCurrentText("steps")
    window.training.budget_value.setText("4")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert _points(window) == 4 and window.session.trainer.step == 4
    assert window.state == "stopped"
    assert (window.session.run_dir / "trainer.safetensors").exists()


def test_a_budgeted_run_in_the_studio_ends_with_the_contrastive_phase(window, qtbot):
    import csv

    window.training.budget_kind.setCurrentText("steps")
    window.training.budget_value.setText("10")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=60000)
    rows = list(csv.DictReader((window.session.run_dir / "metrics.csv").open()))
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3] * 7 + [1e-4] * 3)  # the last 30 %, at lr / 10
    trainer = window.session.trainer
    assert trainer.pool is not None and not trainer.refining and trainer.lr == pytest.approx(1e-3)


def test_invalid_input_disables_start(window, qtbot):
    assert window.start_action.isEnabled()
    window.training.lr.setText("nan")
    assert not window.start_action.isEnabled() and not window.step_action.isEnabled()
    assert "learning rate" in window.training.message.text()
    assert "border" in window.training.lr.styleSheet()  # the field shows it is wrong
    window.training.lr.setText("-1")
    assert not window.start_action.isEnabled()
    window.training.lr.setText("0.001")
    assert window.start_action.isEnabled()
    assert window.training.lr.styleSheet() == ""
    window.training.sigma_min.setText("-0.5")  # a sampler setting: no negative noise levels
    assert not window.start_action.isEnabled()
    assert "sigma min" in window.training.message.text()
    window.training.sigma_min.setText("0.02")
    assert window.start_action.isEnabled()
    for cb in window.training.digit_boxes:
        cb.setChecked(False)
    assert not window.start_action.isEnabled()
    window.start()  # even if called directly, an invalid config starts nothing
    assert window.worker is None


def test_live_settings_reach_the_trainer(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 2, timeout=20000)
    window.training.lr.setText("0.0005")
    window.training.lr.editingFinished.emit()
    window.training.eps.setText("0.0002")
    window.training.eps.editingFinished.emit()
    qtbot.waitUntil(lambda: window.session.trainer.lr == 0.0005, timeout=10000)
    qtbot.waitUntil(lambda: window.session.trainer.cfg.sampler.eps == 0.0002, timeout=10000)
    assert not window.training.width.isEnabled()  # structure is locked during a run
    window.stop()
    assert window.session.cfg.train.lr == 0.0005


# --- errors keep the app alive ----------------------------------------------------------------------
def test_bad_data_source_reports_error_and_app_keeps_running(window, qtbot, tmp_path):
    window.training._set_source(str(tmp_path / "no-such-folder"))
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert window.state == "error"
    assert "no-such-folder" in window.last_error
    assert "ERROR" in window.log.toPlainText()
    window.training._set_source("mnist")
    window.start()  # the same window trains fine afterwards
    qtbot.waitUntil(lambda: _points(window) >= 1, timeout=20000)


def test_divergence_error_keeps_last_good_weights(window, qtbot):
    import torch

    from ebm_studio.core.checkpoint import load_run
    from ebm_studio.core.errors import DivergenceError

    window.step()
    qtbot.waitUntil(lambda: _points(window) == 1 and window.state == "paused", timeout=20000)
    trainer = window.session.trainer

    def explode():  # weights turn to NaN and the guard gives up, as after repeated divergence
        with torch.no_grad():
            for p in trainer.model.parameters():
                p.fill_(float("nan"))
        raise DivergenceError("training keeps diverging (test)")

    trainer.train_step = explode  # safe: the worker is paused between two steps
    window.step()
    qtbot.waitUntil(lambda: window.worker is None, timeout=10000)
    assert window.state == "error" and "keeps diverging" in window.last_error
    assert trainer.params_finite()  # the last good state was restored before saving
    run = load_run(window.session.run_dir)
    assert all(torch.isfinite(t).all() for t in run.model.state_dict().values())


def test_pause_on_divergence_chosen_in_the_panel_pauses_the_window(window, qtbot, poison_next_step):
    window.training.on_divergence.setCurrentIndex(window.training.on_divergence.findData("pause"))
    assert window.training.config().train.on_divergence == "pause"
    window.step()
    qtbot.waitUntil(lambda: _points(window) == 1 and window.state == "paused", timeout=20000)
    trainer = window.session.trainer
    poison_next_step(trainer)  # safe: the worker is paused between two steps
    window.toggle_pause()
    qtbot.waitUntil(lambda: window.state == "paused" and _points(window) >= 2, timeout=20000)
    assert "paused" in window.statusBar().currentMessage()
    assert trainer.params_finite()
    window.toggle_pause()  # the user resumes: training carries on from the restored state
    qtbot.waitUntil(lambda: _points(window) >= 4, timeout=20000)
    assert trainer.params_finite()


def test_open_corrupt_run_shows_error_and_keeps_running(window, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.toml").write_text("[model]\nfamily='conv'\n")
    (bad / "model.safetensors").write_bytes(b"junk" * 10)
    assert not window.open_path(str(bad))
    assert "model.safetensors" in window.last_error
    assert not window.open_path(str(tmp_path / "missing"))
    assert window.start_action.isEnabled()


# --- files ----------------------------------------------------------------------------------------
def test_export_grid_png_size(window, qtbot, tmp_path):
    from PIL import Image

    window.samples.show_samples(np.random.rand(12, 28, 28).astype(np.float32), "test")
    out = tmp_path / "grid.png"
    size = window.samples.export(str(out), rows=3, cols=4, scale=2, title=False)
    assert Image.open(out).size == size == ((4 * 28 + 5 * 2) * 2, (3 * 28 + 4 * 2) * 2)


def test_open_save_roundtrip_and_continue(window, qtbot, tmp_path):
    window.step()
    qtbot.waitUntil(lambda: _points(window) == 1, timeout=20000)
    window.stop()
    target = tmp_path / "saved"
    assert window.save_checkpoint(str(target))
    saved_cfg = window.session.cfg
    window.reset()
    assert _points(window) == 0 and window.session is None
    window.training.lr.setText("0.01")
    assert window.open_path(str(target / "model.safetensors"))  # a checkpoint file works as well as its folder
    assert window.training.config().train.lr == saved_cfg.train.lr
    assert window.training.config().model == saved_cfg.model
    assert window.model is not None and _points(window) == 1
    assert str(target / "model.safetensors") in window._recent()
    window.step()  # Start/Step continue the opened run where it stopped
    qtbot.waitUntil(lambda: _points(window) == 2, timeout=20000)
    window.stop()
    assert window.session.trainer.step == 2 and window.session.run_dir == target


def test_save_and_load_config_toml(window, tmp_path):
    from ebm_studio.core.config import load_config

    window.training.lr.setText("0.0042")
    path = tmp_path / "cfg.toml"
    assert window.save_config(str(path))
    assert load_config(path).train.lr == 0.0042
    window.training.lr.setText("0.1")
    assert window.load_config_file(str(path))
    assert window.training.lr.value() == 0.0042
    path.write_text("[train]\nlr = nan\n")
    assert not window.load_config_file(str(path))
    assert "lr" in window.last_error


def test_settings_and_layout_persist(qtbot, tmp_path, monkeypatch):
    w = make_window(tmp_path, monkeypatch)
    qtbot.addWidget(w)
    w.show()
    w.training.lr.setText("0.0033")
    w.training.budget_kind.setCurrentText("minutes")
    w.training.budget_value.setText("7")
    w.log_dock.hide()  # a dock the user closed stays closed
    w.close()
    assert w.settings.value("geometry") is not None
    w2 = make_window(tmp_path, monkeypatch, restore=True)
    qtbot.addWidget(w2)
    w2.show()
    assert w2.training.lr.value() == 0.0033
    assert w2.training.budget_kind.currentText() == "minutes" and w2.training.budget_value.text() == "7"
    assert w2.log_dock.isHidden() and not w2.charts_dock.isHidden()
    w2.restore_default_layout()
    assert not w2.log_dock.isHidden()
    w2.close()


# --- closing ----------------------------------------------------------------------------------------
def test_close_mid_training_saves_and_joins(qtbot, tmp_path, monkeypatch):
    w = make_window(tmp_path, monkeypatch, confirm="save")
    w.show()
    w.start()
    qtbot.waitUntil(lambda: _points(w) >= 2, timeout=20000)
    thread = w.thread
    w.close()
    assert _thread_done(thread) and w.worker is None
    assert (w.session.run_dir / "model.safetensors").exists()
    assert (w.session.run_dir / "trainer.safetensors").exists()


def test_close_cancelled_keeps_training(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 1, timeout=20000)
    window.confirm_close = lambda: "cancel"
    window.close()
    assert window.isVisible() and window.worker is not None
    n = _points(window)
    qtbot.waitUntil(lambda: _points(window) > n, timeout=10000)


# --- families, charts and gallery ---------------------------------------------------------------
def test_family_choice_applies_its_recipe(window):
    from ebm_studio.core.families import family_names

    if "rbm" not in family_names(energy_models_only=True):
        pytest.skip("Boltzmann machines not available")
    t = window.training
    t.family.setCurrentIndex(t.family.findData("rbm"))
    cfg = t.config()
    assert cfg.model.family == "rbm" and cfg.train.objective == "cd" and cfg.sampler.schedule == "constant"
    assert not t.step_size.isEnabled() and t.steps.isEnabled()  # Gibbs sweeps, no Langevin step size
    t.family.setCurrentIndex(t.family.findData("conv"))
    cfg = t.config()
    assert cfg.model.family == "conv" and cfg.train.objective == "dsm" and cfg.train.lr == RunConfig().train.lr


def test_boltzmann_training_through_the_window(window, qtbot):
    from ebm_studio.core.families import family_names

    if "rbm" not in family_names(energy_models_only=True):
        pytest.skip("Boltzmann machines not available")
    t = window.training
    t.family.setCurrentIndex(t.family.findData("rbm"))
    t.set_config(t.config().with_overrides(**{"model.hidden": [8], "data.limit": 200, "train.batch_size": 20}))
    t.budget_kind.setCurrentText("steps")
    t.budget_value.setText("3")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert _points(window) == 3
    assert window.charts.labels["e_data"] == "F(data)"  # free energies for Boltzmann machines
    assert "Gibbs" in window.samples.caption.text()
    assert window.model is not None and hasattr(window.model, "weights_image")


def test_charts_readout_csv_and_event_marks(window, tmp_path):
    charts = window.charts
    recs = [{"step": i, "epoch": i / 10, "loss": 1.0 / i, "grad_norm": float(i), "e_data": -i, "e_samples": i,
             "event": "diverged (test)" if i == 3 else None} for i in range(1, 6)]
    charts.add_records(recs)
    assert charts.n_points == 5 and charts.event_steps == [3]
    assert "step 2" in charts.show_readout(2.2) and "+0.5" in charts.readout.text()
    charts.log_y.setChecked(True)
    charts.smooth.setChecked(False)
    charts.export_csv(str(tmp_path / "m.csv"))
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert lines[0] == "step,loss,grad_norm,e_data,e_samples" and len(lines) == 6
    assert lines[3].split(",")[:3] == ["3", "0.333333333", "3"]
    charts.clear()
    assert charts.n_points == 0 and charts.event_steps == []


def test_generate_during_training_uses_a_fresh_copy(window, qtbot):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 2, timeout=20000)
    window.samples.n.set_value(6)
    window.samples.steps.set_value(10)
    window.samples.generate()
    qtbot.waitUntil(lambda: "model at step" in window.samples.caption.text(), timeout=20000)
    assert window.samples.samples.shape == (6, 28, 28)
    assert not window.samples.live.isChecked()  # the result stays on screen, live stream paused
    assert window.worker is not None and window.state == "running"


def test_receptive_field_hook_shows_weights(window):
    class View:
        def __init__(self):
            self.got = None

        def set_weights(self, w):
            self.got = w

    class FakeRBM:
        def weights_image(self):
            return np.ones((3, 784), np.float32)

    window.fields_view = View()
    window._update_family_views(FakeRBM())
    assert window.fields_view.got.shape == (3, 784)
    assert not window.fields_dock.isHidden()


def test_screenshot(window, qtbot, tmp_path):
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 3 and window.samples.samples.size > 0, timeout=20000)
    out = tmp_path / "studio.png"
    assert window.grab().save(str(out))
    window.stop()
    from PIL import Image

    img = np.asarray(Image.open(out).convert("L"))
    assert img.shape[0] > 300 and img.std() > 10  # a real picture, not a blank


def test_switch_to_rbm_family_and_train(window, qtbot):
    from ebm_studio.gui.receptive_fields import ReceptiveFieldView

    panel = window.training
    panel.family.setCurrentIndex(panel.family.findData("rbm"))
    cfg = panel.config()
    assert cfg.model.family == "rbm" and cfg.train.objective == "cd" and cfg.sampler.steps == 1
    panel.width.set_value(16)
    panel.budget_kind.setCurrentText("unlimited")
    window.start()
    qtbot.waitUntil(lambda: _points(window) >= 5, timeout=20000)
    qtbot.waitUntil(lambda: len(window.fields_view.weights) == 16, timeout=20000)
    window.stop()
    assert isinstance(window.fields_view, ReceptiveFieldView)
    assert window.fields_view.mosaic().min() >= -1 and window.fields_view.mosaic().max() <= 1
    assert window.session.trainer.model.W.shape == (784, 16)


def test_pretrained_model_is_loaded_at_start(qtbot, tmp_path, monkeypatch):
    import ebm_studio.gui.main_window as mw
    import ebm_studio.gui.window_files as wf
    from ebm_studio.core.checkpoint import load_run, save_run
    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.width": 4, "train.lr": 0.0007})
    save_run(tmp_path / "pre", build_model(cfg), cfg)
    monkeypatch.setattr(mw, "available_pretrained", lambda: ["conv"])
    monkeypatch.setattr(wf, "available_pretrained", lambda: ["conv"])
    monkeypatch.setattr(wf, "open_model", lambda spec: load_run(tmp_path / "pre"))
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    w = mw.MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), restore_state=False)
    qtbot.addWidget(w)
    assert len(w.controller.jobs) == 1  # opening the shipped model is a job: the window paints meanwhile
    qtbot.waitUntil(lambda: w.model is not None, timeout=20000)
    assert w.samples.model is w.model
    assert getattr(w.canvas, "model", w.model) is w.model  # the canvas got it too
    # the README's default: with the shipped model shown, Start trains a new run of the default recipe
    assert w.training.lr.value() == RunConfig().train.lr and w.training.width.value() == RunConfig().model.width
    assert w.controller.start_plan(w.training.config()).mode == "new"
    assert w.training.start_mode.currentData() == "new" and "new" in w.training.start_note.text()
    w.controller.set_start_mode("fine-tune")  # only when chosen explicitly: the model's own recipe
    assert w.controller.start_plan(w.training.config()).cfg.train.objective == cfg.train.objective
    assert w.controller.start_plan(w.training.config()).cfg.model == cfg.model
    assert w.samples.generate_btn.isEnabled()
    w.close()


def test_generate_and_evaluate_when_idle(window, qtbot, monkeypatch):
    import ebm_studio.core.quality as quality
    from ebm_studio.core.families import build_model
    from ebm_studio.core.quality import MeterProgress, QualityReport

    cfg = RunConfig().with_overrides(**{"model.width": 4})
    window.set_current_model(build_model(cfg).eval(), cfg)
    window.samples.n.set_value(4)
    window.samples.steps.set_value(10)
    window.samples.generate()
    qtbot.waitUntil(lambda: window.samples.samples.shape == (4, 28, 28), timeout=20000)
    assert "4 samples from uniform noise" in window.samples.caption.text()

    class Meter:  # the shipped meter is tested on its own; here only the plumbing matters
        def evaluate(self, samples):
            return QualityReport(n=len(samples), fid=12.5, confidence=0.9, coverage_bits=3.1, nn_distance=4.2,
                                 unsure=0.25)

        def evaluate_steps(self, samples):
            yield MeterProgress(1, 1, self.evaluate(samples))

    monkeypatch.setattr(quality, "load_meter", lambda: Meter())
    window.samples.evaluate()
    qtbot.waitUntil(lambda: "FID 12.5" in window.samples.report.text(), timeout=10000)
    assert "n=4" in window.samples.report.text() and "unsure 25%" in window.samples.report.text()


def test_keyboard_shortcuts_drive_the_run(window, qtbot):
    from PySide6.QtCore import Qt

    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Step
    qtbot.waitUntil(lambda: _points(window) == 1, timeout=20000)
    qtbot.keyClick(window, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)  # Stop
    qtbot.waitUntil(lambda: window.worker is None, timeout=10000)
    assert window.state == "stopped"


def test_a_bug_in_a_slot_is_shown_not_fatal(window, monkeypatch):
    import sys

    from ebm_studio.gui.main_window import install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook(window)
    try:
        raise ValueError("boom")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert "internal error: ValueError: boom" in window.last_error


def test_decimation_keeps_peaks_and_order():
    from ebm_studio.gui.charts import decimate

    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 500.0)
    y[31_337], y[77_000] = 25.0, -40.0  # single-step spikes must survive
    y[50_000] = np.nan
    xd, yd = decimate(x, y, 2000)
    assert len(xd) <= 2002 and np.all(np.diff(xd) >= 0)
    assert np.nanmax(yd) == 25.0 and np.nanmin(yd) == -40.0
    small_x, small_y = decimate(x[:500], y[:500], 2000)
    assert np.array_equal(small_x, x[:500]) and np.array_equal(small_y, y[:500])


def test_long_runs_are_decimated_but_zoom_shows_every_step(window):
    charts = window.charts
    n = 20_000
    charts.add_records([{"step": i, "epoch": 0.0, "loss": float(i % 7), "grad_norm": 1.0, "e_data": 0.0,
                         "e_samples": 1.0} for i in range(1, n + 1)])
    charts._redraw()
    xs, _ = charts.curves["loss"].getData()
    assert len(xs) <= 2002 and xs[-1] == n  # the whole run, decimated
    charts.plots[0].setXRange(1000, 1100, padding=0)
    charts._user_moved_view()  # as pyqtgraph reports a drag or wheel zoom
    charts._redraw()
    xs, ys = charts.curves["loss"].getData()
    assert xs[0] <= 1000 and xs[-1] >= 1100 and len(xs) < 200
    assert np.array_equal(np.diff(xs), np.ones(len(xs) - 1))  # every step in view, none skipped


def test_cyclic_garbage_is_collected_in_the_gui_thread_while_the_window_is_open(qtbot, tmp_path, monkeypatch):
    import gc
    import weakref

    was_enabled = gc.isenabled()
    w = make_window(tmp_path, monkeypatch)
    qtbot.addWidget(w)
    assert not gc.isenabled()  # no collection in whichever thread allocates (the worker)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the cyclic collector frees it
    gone = weakref.ref(a)
    del a, b
    junk = [[] for _ in range(gc.get_threshold()[0] + 10)]  # cross the generation-0 threshold
    qtbot.waitUntil(lambda: gone() is None, timeout=3000)  # the GUI thread's timer collected it
    del junk
    w.close()
    assert gc.isenabled() == was_enabled


@pytest.mark.parametrize("family", ["vae", "flow"])
def test_baseline_trains_in_the_window_and_samples_in_one_pass(window, qtbot, family):
    t = window.training
    t.family.setCurrentIndex(t.family.findData(family))
    cfg = t.config()
    assert cfg.model.family == family and not t.steps.isEnabled() and not t.schedule.isEnabled()
    t.set_config(cfg.with_overrides(**{"model.hidden": [32], "data.limit": 200, "train.batch_size": 20}))
    t.budget_kind.setCurrentText("steps")
    t.budget_value.setText("4")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert _points(window) == 4
    assert "log p" in window.charts.labels["e_data"] or "ELBO" in window.charts.labels["e_data"]
    assert "latent prior" in window.samples.caption.text()
    assert window.model is not None
    # the canvas has no chain to play for a baseline, and says why
    assert not window.canvas.play_btn.isEnabled() and "baseline" in window.canvas.play_btn.toolTip()
    window.samples.generate()
    qtbot.waitUntil(lambda: len(window.samples.samples) > 0 and not window.samples._busy, timeout=20000)
    assert window.samples.samples.min() >= 0 and window.samples.samples.max() <= 1


def test_precision_choice_reaches_the_config(window):
    t = window.training
    t.precision.setCurrentIndex(t.precision.findData("fp32"))
    cfg = t.config()
    assert cfg.train.precision == "fp32" and cfg.sampler.precision == "fp32"
    t.set_config(cfg.with_overrides(**{"train.precision": "bf16"}))
    assert t.precision.currentData() == "bf16" and t.config().sampler.precision == "bf16"


def test_the_sampler_choice_of_the_training_panel_reaches_the_config(window):
    t = window.training
    t.set_config(t.config().with_overrides(**{"sampler.schedule": "ancestral", "train.objective": "dsm"}))
    t.method.setCurrentIndex(t.method.findData("euler-a"))
    t.solver_steps.set_value(12)
    cfg = t.config()
    assert cfg.sampler.method == "euler-a" and cfg.sampler.solver_steps == 12
    t.method.setCurrentIndex(t.method.findData("pc"))
    assert not t.solver_steps.isEnabled()  # the slow chain's length is levels x steps
    t.set_config(cfg.with_overrides(**{"sampler.method": "heun"}))
    assert t.method.currentData() == "heun" and t.solver_steps.isEnabled()
    t.set_config(cfg.with_overrides(**{"train.objective": "cd", "sampler.schedule": "constant"}))
    assert not t.method.isEnabled()  # contrastive divergence trains a plain E(x): no ladder to solve


def test_picking_contrastive_divergence_trains_by_recovery_and_samples_with_its_chain(window):
    t = window.training
    assert t.objective.itemText(t.objective.findData("recovery")) == "Contrastive divergence"
    t.objective.setCurrentIndex(t.objective.findData("recovery"))
    t.objective.activated.emit(t.objective.currentIndex())  # what a person's pick sends
    cfg = t.config()
    assert cfg.train.objective == "recovery" and cfg.sampler.method == "recovery"
    assert cfg.sampler.schedule == "ancestral" and not t.contrast.isEnabled()  # the chain-pool term is DSM's
    assert t.levels.isEnabled() and t.alpha.isEnabled() and cfg.train.alpha == 0.01  # a ladder; the gap^2 term
    t.objective.setCurrentIndex(t.objective.findData("dsm"))
    t.objective.activated.emit(t.objective.currentIndex())
    assert t.config().sampler.method == "fast-pc" and t.contrast.isEnabled()


def test_few_shot_from_drawings_fine_tunes_the_model_shown(window, qtbot, tmp_path):
    import torch

    from ebm_studio.core.data import load_mnist
    from ebm_studio.core.families import build_model

    t = window.training
    source_cfg = t.config()
    source = build_model(source_cfg).eval()
    window.set_current_model(source, source_cfg)
    for d, cb in enumerate(t.digit_boxes):
        cb.setChecked(d == 9)
    nines = load_mnist("test", digits=[9], limit=3).images
    window.canvas.surface.set_image(np.zeros((28, 28), np.float32))
    window.canvas.add_example()  # an empty canvas is refused
    assert getattr(window, "examples_dir", None) is None
    for img in nines:
        window.canvas.surface.set_image(img[0].numpy())
        window.canvas.add_example()
    folder = window.examples_dir
    assert sorted(p.name for p in folder.glob("*.png")) == [f"9_drawing-00{i}.png" for i in (1, 2, 3)]
    assert t.data_source == str(folder)
    window.controller.set_start_mode("fine-tune")  # chosen explicitly, as with the panel's "Start does" box
    assert t.start_mode.currentData() == "fine-tune"
    t.lr.set_value(1e-7)  # so the tuned weights stay next to where they started
    t.budget_kind.setCurrentText("steps")
    t.budget_value.setText("2")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    s = window.session
    assert "finetune" in s.run_dir.name and len(s.data) == 3 and s.trainer.step == 2
    assert s.cfg.model == source_cfg.model
    tuned = s.trainer.model.state_dict()
    for k, v in source.state_dict().items():
        assert torch.allclose(tuned[k].float().cpu(), v.float(), atol=1e-4), k
    fresh = build_model(source_cfg).state_dict()
    assert any(not torch.allclose(fresh[k].float(), v.float(), atol=1e-3) for k, v in source.state_dict().items()
               if v.is_floating_point() and v.numel() > 1)


def test_fine_tune_without_a_model_is_a_message(window):
    window.controller.set_start_mode("fine-tune")
    window.set_current_model(None, None)
    errors = []
    window.show_error = errors.append
    window.start()
    assert window.worker is None and "load or train one first" in errors[0]
