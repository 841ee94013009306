"""Regenerate the README screenshots offscreen: the studio mid-training and the canvas mid-chain.

    QT_QPA_PLATFORM=offscreen python scripts/make_screenshots.py RUN_DIR [--train-seconds 8]

RUN_DIR is a run to continue (its metrics fill the charts), e.g. a copy of the pretrained model's
run directory. Writes docs/screenshots/studio.png and docs/screenshots/canvas.png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def pump(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.01)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--train-seconds", type=float, default=8.0)
    args = ap.parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ebm_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    tmp = Path(tempfile.mkdtemp())
    run = tmp / "run"
    shutil.copytree(args.run, run)
    os.environ["EBM_STUDIO_RUNS_DIR"] = str(tmp / "runs")
    win = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                     restore_state=False, confirm_close=lambda: "discard")
    win.resize(1500, 950)
    win.show()
    win.open_path(str(run))
    win.training.budget_kind.setCurrentText("unlimited")
    win.start()
    pump(app, args.train_seconds)
    win.toggle_pause()
    pump(app, 10, until=lambda: win.state == "paused")
    win.samples.n.set_value(64)
    win.samples.steps.set_value(win.model_cfg.sampler.total_steps())
    win.samples.generate()
    pump(app, 120, until=lambda: win.samples.source.startswith("64 samples"))
    win.samples.evaluate()
    pump(app, 60, until=lambda: bool(win.samples.report.text()))
    pump(app, 1.0)  # let the layout take the report's new height before the grab
    OUT.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(OUT / "studio.png"))

    canvas = win.canvas
    win.canvas_dock.raise_()
    canvas.surface.clear()
    for t in range(40):  # a hand-drawn "7": a top bar and a slanted stem
        canvas.surface.paint_at(7, 8 + t * 0.3)
    for t in range(40):
        canvas.surface.paint_at(7 + t * 0.42, 19.5 - t * 0.2)
    canvas.surface.changed.emit()
    canvas.anneal_from.set_value(0.2)
    canvas.total.set_value(60)
    canvas.every.setValue(5)
    canvas.chains.setValue(8)
    for _ in range(45):
        canvas.step()
    canvas.resize(1100, 620)
    canvas.grab().save(str(OUT / "canvas.png"))
    win.stop()
    win.close()
    print(f"wrote {OUT / 'studio.png'} and {OUT / 'canvas.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
