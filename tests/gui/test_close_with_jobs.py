"""Closing the window ends the process in under 2 s, idle, mid-training or mid-Generate, with no
traceback and the run saved (measured in a subprocess, as a user's close would be)."""

import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.gui

SCRIPT = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.families import build_model
    from ebm_studio.gui.main_window import MainWindow, run_until_closed

    mode = sys.argv[1]
    app = QApplication([])
    w = MainWindow(settings=QSettings(sys.argv[2] + "/s.ini", QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "save")
    tiny = {"model.width": 4, "train.batch_size": 16, "data.limit": 256}
    w.training.set_config(RunConfig().with_overrides(**tiny))
    w.training.budget_kind.setCurrentText("unlimited")
    cfg = RunConfig().with_overrides(**{"model.width": 8})
    w.set_current_model(build_model(cfg).eval(), cfg)
    w.show()

    def go():
        if mode == "generate":
            w.samples.n.set_value(256)
            w.samples.steps.set_value(100000)
            w.samples.generate()
        elif mode == "training":
            w.start()

    def close():
        if mode == "training" and w.charts.n_points < 2:
            QTimer.singleShot(200, close)
            return
        if mode == "generate":
            assert len(w.controller.jobs) == 1, "the job should be running"
        print("CLOSING", time.time(), flush=True)
        w.close()

    QTimer.singleShot(100, go)
    QTimer.singleShot(1500, close)
    run_until_closed(app)
""")


@pytest.mark.parametrize("mode", ["idle", "generate", "training"])
def test_close_exits_fast_without_traceback(mode, tmp_path):
    env = {"EBM_STUDIO_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1", "EBM_STUDIO_THREADS": "1"}
    import os

    env = {**os.environ, **env}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, mode, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    closing = None
    for line in proc.stdout:
        if line.startswith("CLOSING"):
            closing = float(line.split()[1])
            break
    proc.wait(timeout=60)
    ended = time.time()
    err = proc.stderr.read()
    assert closing is not None, err
    assert proc.returncode == 0, err
    assert ended - closing < 2.0, f"exit took {ended - closing:.2f} s"
    assert "Traceback" not in err and "RuntimeError" not in err, err
    if mode == "training":
        runs = list((tmp_path / "runs").glob("*/model.safetensors"))
        assert runs, "the run was not saved"
