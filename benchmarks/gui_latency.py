"""GUI responsiveness while training: event-loop stall and time to the first chart point.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_latency.py [--seconds 20]

Runs the studio offscreen. A 10 ms QTimer records how late each tick fires (the event loop's
stall), first with the window idle (the baseline), then while the default recipe trains in the
worker thread; prints p50/p99/max of the lateness for both, and the time from pressing Start to
the first point on the charts. Targets: p99 <= 50 ms while training; first point <= 10 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))] if s else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("EBM_STUDIO_RUNS_DIR", tempfile.mkdtemp(prefix="ebm-latency-"))
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from ebm_studio.core.device import configure_threads
    from ebm_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    configure_threads(for_gui_worker=True)
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, load_pretrained=False, restore_state=False, confirm_close=lambda: "discard")
    win.training.budget_kind.setCurrentText("unlimited")
    win.show()

    def measure(seconds: float) -> list[float]:
        late: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.elapsed()]

        def tick():
            now = clock.elapsed()
            late.append(max(0.0, now - last[0] - 10.0))
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        return late

    idle = measure(min(5.0, args.seconds))
    t0 = time.monotonic()
    win.start()
    first = None
    while first is None and time.monotonic() - t0 < 120:
        app.processEvents()
        if win.charts.n_points > 0:
            first = time.monotonic() - t0
        time.sleep(0.001)
    busy = measure(args.seconds)
    steps = win.charts.n_points
    win.close()
    print(f"{'':22s}{'p50 ms':>8s}{'p99 ms':>8s}{'max ms':>8s}{'ticks':>7s}")
    for name, v in (("idle window", idle), ("while training", busy)):
        print(f"{name:22s}{percentile(v, 50):8.1f}{percentile(v, 99):8.1f}{max(v):8.1f}{len(v):7d}")
    print(f"first chart point {first:.2f} s after Start; {steps} training steps charted; "
          f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
