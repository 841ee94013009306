"""Evaluate shows the meter's real progress in the job bar, and Cancel stops it between two chunks."""

import time

import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui


def test_evaluate_has_a_progress_bar_and_cancel(qtbot, tmp_path, monkeypatch):
    import ebm_studio.core.quality as quality
    from ebm_studio.core.families import build_model
    from ebm_studio.core.quality import MeterProgress
    from ebm_studio.gui.main_window import MainWindow

    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    chunks = []

    class SlowMeter:  # a chunk every 50 ms; the real meter's chunks are tested in tests/core/quality
        def evaluate_steps(self, samples):
            for i in range(1, 1001):
                time.sleep(0.05)
                chunks.append(i)
                yield MeterProgress(i, 1000)

    monkeypatch.setattr(quality, "load_meter", lambda: SlowMeter())
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "discard")
    qtbot.addWidget(w)
    w.show()
    try:
        cfg = RunConfig().with_overrides(**{"model.width": 4})
        w.set_current_model(build_model(cfg).eval(), cfg)
        w.samples.n.set_value(4)
        w.samples.steps.set_value(3)
        w.samples.generate()
        qtbot.waitUntil(lambda: w.samples.samples.shape == (4, 28, 28), timeout=20000)
        w.samples.evaluate()
        bar = w.status.job_bar
        qtbot.waitUntil(lambda: len(chunks) >= 4, timeout=10000)
        bar.refresh()
        assert "evaluating" in bar.label.text() and "%" in bar.label.text() and "left" in bar.label.text()
        t0 = time.monotonic()
        bar.cancel_btn.click()
        qtbot.waitUntil(lambda: len(w.controller.jobs) == 0, timeout=5000)
        assert time.monotonic() - t0 < 1.0 and len(chunks) < 1000
        assert "FID" not in w.samples.report.text() and w.samples.generate_btn.isEnabled()
    finally:
        w.close()
