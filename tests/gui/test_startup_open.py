"""The shipped model opens as a job at start-up: the window is up before it, and closing meanwhile is clean."""

import pytest
from PySide6.QtCore import QSettings

pytestmark = pytest.mark.gui


def _window(tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    return MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), restore_state=False,
                      confirm_close=lambda: "discard")


def test_the_shipped_model_arrives_from_a_job_with_its_ranking_reference(qtbot, tmp_path, monkeypatch):
    import threading

    from ebm_studio.core import landscape

    first_call = []
    original = landscape.reference_energies

    def recorded(model, *args, **kwargs):
        if not first_call:
            first_call.append(threading.current_thread() is threading.main_thread())
        return original(model, *args, **kwargs)

    monkeypatch.setattr(landscape, "reference_energies", recorded)
    w = _window(tmp_path, monkeypatch)
    qtbot.addWidget(w)
    assert w.model is None and len(w.controller.jobs) == 1 and "opening" in w.controller.jobs.running[0].name
    qtbot.waitUntil(lambda: w.model is not None, timeout=30000)
    assert first_call == [False]  # the canvas's ranking reference was computed in the job, not on the GUI thread
    assert "energy" in w.canvas.energy_label.text() and len(w.controller.jobs) == 0
    assert "Generate draws samples from it" in w.log.toPlainText()
    w.close()


def test_closing_while_the_shipped_model_opens_shows_nothing_and_leaves_no_job(qtbot, tmp_path, monkeypatch):
    from ebm_studio.gui.tasks import wait_for_jobs

    w = _window(tmp_path, monkeypatch)
    qtbot.addWidget(w)
    w.close()
    assert wait_for_jobs(10000)
    qtbot.wait(50)  # deliver the job's last signal
    assert w.model is None and "ERROR" not in w.log.toPlainText()
