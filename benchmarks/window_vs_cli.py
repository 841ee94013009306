"""A new user's 5 minutes in the window against the CLI's: updates made and the meter's figures.

    QT_QPA_PLATFORM=offscreen python benchmarks/window_vs_cli.py [--minutes 5] [--n 500]

Issue #21's check, in one run and side by side: (1) ``ebm-studio train --minutes M`` (the
default recipe, as the README's 5-minute figures); (2) a fresh window with the shipped model
shown, "Train for M minutes", Start (which trains the default recipe) until the budget ends. Each
run is then scored the same way, ``ebm-studio evaluate RUN --n N`` (fresh chains of the run's own
sampler from uniform noise, as the window's Generate/Evaluate draw them). Run it on an idle machine:
the two trainings are sequential and each has the CPU to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the studio's entry point (ebm_studio.app) sets it


def steps_of(run: Path) -> int:
    return int(tomllib.loads((run / "config.toml").read_text()).get("meta", {}).get("step", 0))


def score(run: Path, n: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "ebm_studio", "evaluate", str(run), "--n", str(n), "--json",
                          "--quiet"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def cli_run(work: Path, minutes: float) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # the CLI as a user runs it
    subprocess.run([sys.executable, "-m", "ebm_studio", "train", "--out", str(work / "cli"), "--minutes",
                    str(minutes), "--quiet"], check=True, env=env)
    return work / "cli"


def window_run(work: Path, minutes: float) -> Path:
    runs = work / "window-runs"
    os.environ["EBM_STUDIO_RUNS_DIR"] = str(runs)
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from ebm_studio.core.device import configure_threads
    from ebm_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    configure_threads(for_gui_worker=True)
    settings = QSettings(str(work / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, restore_state=False, confirm_close=lambda: "discard")
    win.show()
    state = {"phase": "opening", "t0": time.monotonic()}

    def poll():
        c = win.controller
        if state["phase"] == "opening" and getattr(c, "shown", None) is not None:  # the shipped model is shown
            win.training.budget_kind.setCurrentText("minutes")
            win.training.budget_value.setText(f"{minutes:g}")
            state["phase"] = "started"
            win.start()
        elif state["phase"] == "started" and c.run_state == "running":
            state["phase"] = "running"
        elif state["phase"] == "running" and c.run_state in ("stopped", "error") and win.worker is None:
            state["phase"] = "done"
            app.quit()
        elif time.monotonic() - state["t0"] > minutes * 60 + 600:
            state["phase"] = "timed out"
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(200)
    app.exec()
    if state["phase"] != "done":
        raise SystemExit(f"the window's run did not finish ({state['phase']})")
    win.close()
    (run,) = [p.parent for p in runs.glob("*/config.toml")]
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--n", type=int, default=500, help="samples scored per run")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ebm-window-vs-cli-"))
    runs = {"CLI (ebm-studio train)": cli_run(work, args.minutes),
            "window (Start, shipped model shown)": window_run(work, args.minutes)}
    print(f"{args.minutes:g} minutes of training each, default recipe, scored on {args.n} fresh samples; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'':38s} {'updates':>8s} {'FID':>7s} {'conf':>6s} {'cover':>6s} {'unsure':>7s}")
    for name, run in runs.items():
        r = score(run, args.n)
        print(f"{name:38s} {steps_of(run):8d} {r['fid']:7.1f} {r['confidence']:6.3f} {r['coverage_bits']:6.2f} "
              f"{r.get('unsure', float('nan')):7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
