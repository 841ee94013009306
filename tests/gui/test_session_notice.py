"""The window tells the user what a resumed session did differently (core's ``TrainingSession.notice``)."""

import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui

TINY = {"model.width": 4, "train.batch_size": 16, "sampler.steps": 3, "train.buffer_size": 64, "data.limit": 256,
        "train.lr": 1e-3}


def test_a_set_aside_metrics_log_is_shown_in_the_log_and_status_bar(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "discard")
    qtbot.addWidget(w)
    w.training.set_config(RunConfig().with_overrides(**TINY))
    w.training.budget_kind.setCurrentText("unlimited")
    w.show()
    try:
        w.step()
        qtbot.waitUntil(lambda: w.charts.n_points == 1, timeout=20000)
        w.stop()
        target = tmp_path / "saved"
        assert w.save_checkpoint(str(target))
        w.reset()
        assert w.open_path(str(target))
        assert "note:" not in w.log.toPlainText()
        (target / "metrics.csv").write_text("step,loss\nnot-a-step,1\n")  # damaged after it was opened
        w.step()  # continues the opened run: the session sets the log aside and says so
        qtbot.waitUntil(lambda: "set aside" in w.statusBar().currentMessage(), timeout=20000)
        w.stop()
        assert w.session.notice and "set aside" in w.session.notice
        assert f"note: {w.session.notice}" in w.log.toPlainText()
    finally:
        w.close()
