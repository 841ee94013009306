"""Soak test: train in the studio (offscreen) for a long time and record memory every minute.

    QT_QPA_PLATFORM=offscreen python benchmarks/soak.py [--minutes 30] [--interval 60]

Prints the resident set size at each interval and the growth after the warm-up (the first two
samples), which must stay small: a leak in the worker, the charts or the gallery shows up here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=60.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("EBM_STUDIO_RUNS_DIR", tempfile.mkdtemp(prefix="ebm-soak-"))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from ebm_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    win = MainWindow(settings=QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat),
                     load_pretrained=False, restore_state=False, confirm_close=lambda: "discard")
    win.training.budget_kind.setCurrentText("unlimited")
    win.show()
    win.start()
    samples = []
    start = time.monotonic()
    next_mark = start
    while time.monotonic() - start < args.minutes * 60:
        app.processEvents()
        time.sleep(0.005)
        if time.monotonic() >= next_mark:
            samples.append((time.monotonic() - start, win.charts.n_points, rss_mib()))
            print(f"{samples[-1][0] / 60:6.1f} min  step {samples[-1][1]:7d}  RSS {samples[-1][2]:8.1f} MiB", flush=True)
            next_mark += args.interval
    win.close()
    if len(samples) >= 3:
        warm = samples[1][2]
        growth = samples[-1][2] - warm
        print(f"growth after warm-up: {growth:+.1f} MiB over {(samples[-1][0] - samples[1][0]) / 60:.1f} min "
              f"({growth / max(1, samples[-1][1] - samples[1][1]) * 1000:+.2f} MiB per 1000 steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
