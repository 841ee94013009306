"""Screenshots of the WHOLE studio window in a real X server, as a person sees it.

    python scripts/make_screenshots.py [--sizes 1366x768 1920x1080] [--out docs/screenshots]

For each screen size it starts Xvfb with the openbox window manager, opens the studio
maximised (the shipped model shown), and for each scene (the window as opened, mid-training,
the canvas mid-chain, the canvas completing a half digit, an RBM opened, 64 fresh samples generated) waits until the scene is on screen, grabs the whole
screen with ImageMagick's ``import -window root`` and closes the window with Ctrl+Q through
``xdotool``. Training is started by pressing Ctrl+R through ``xdotool`` too. Writes
``OUT/<scene>-<W>x<H>.png``; look at every one before using it (a screen is black for its first
seconds). Needs Xvfb, openbox, xdotool and imagemagick.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENES = ("opened", "training", "canvas", "inpaint", "rbm", "generated", "cd")


# --- inside the X server: the studio, put into a scene ---------------------------------------------
def run_scene(scene: str) -> int:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QScrollArea

    from ebm_studio.gui.main_window import MainWindow, run_until_closed

    app = QApplication(sys.argv[:1])
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, restore_state=False, confirm_close=lambda: "discard")
    win.training.budget_kind.setCurrentText("minutes")
    win.training.budget_value.setText("5")
    win.showMaximized()
    state = {"t0": time.monotonic(), "ready": False}

    def ready():
        if not state["ready"]:
            state["ready"] = True
            print("READY", flush=True)

    def setup():
        if scene == "rbm":
            win.open_path("pretrained:rbm")
        elif scene == "generated":
            win.samples.generate_btn.click()  # Generate with the default sampler, as a click would
        elif scene == "cd":  # pick "Contrastive divergence" as a person would; Start comes from the keys
            t = win.training
            t.objective.setCurrentIndex(t.objective.findData("recovery"))
            t.objective.activated.emit(t.objective.currentIndex())
        elif scene == "canvas":
            win.canvas_dock.raise_()
            win.canvas.seed_noisy_mnist()
            win.canvas.speed.setValue(100)
            win.canvas.play()
        elif scene == "inpaint":  # the top half of a test digit clamped, the rest from sigma = 1
            c = win.canvas
            win.canvas_dock.raise_()
            c.mode.setCurrentIndex(c.mode.findData("inpaint"))
            digit = c._random_test_digit().copy()
            digit[14:] = 0.0
            c.surface.set_image(digit)
            c.surface.drawn_mask[:14] = True
            c.surface.update()
            c.chains.setValue(4)
            c.total.set_value(150)
            c.anneal_from.set_value(1.0)
            c.speed.setValue(100)
            c.play()

    def poll():
        elapsed = time.monotonic() - state["t0"]
        if scene in ("opened", "rbm") and elapsed > 4:
            ready()
        elif scene == "generated" and "samples from uniform noise" in win.samples.source and not win.samples._busy:
            ready()
        elif scene in ("training", "cd") and win.charts.n_points > 40 and elapsed > 6:
            ready()
        elif scene == "inpaint" and win.canvas.player is not None and win.canvas.player.done:
            scroll = win.canvas.inpaint_guidance.parent()
            while scroll is not None and not isinstance(scroll, QScrollArea):
                scroll = scroll.parent()
            if scroll is not None:  # the playback box, with the guidance field, into view
                scroll.ensureWidgetVisible(win.canvas.inpaint_guidance)
            ready()
        elif scene == "canvas" and win.canvas.player is not None and win.canvas.player.step_index >= 120:
            win.canvas.pause()
            ready()
        if scene in ("training", "cd") and elapsed > 60:
            ready()  # whatever is on screen by then

    QTimer.singleShot(1500, setup)
    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(200)
    run_until_closed(app)
    return 0


# --- outside: the X server, the window manager, the keys and the grab ------------------------------
def grab(scene: str, size: str, out: Path, display: str) -> Path:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
           "EBM_STUDIO_RUNS_DIR": tempfile.mkdtemp(prefix="ebm-shots-")}
    proc = subprocess.Popen([sys.executable, __file__, "--scene", scene], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    try:
        if scene in ("training", "cd"):
            time.sleep(6)
            subprocess.run(["xdotool", "search", "--sync", "--name", "EBM Studio", "windowactivate", "--sync"],
                           env=env, check=False, timeout=20)
            subprocess.run(["xdotool", "key", "ctrl+r"], env=env, check=True)  # Start, as a user would
        for line in proc.stdout:
            if line.startswith("READY"):
                break
        time.sleep(1.0)
        path = out / f"{scene}-{size}.png"
        subprocess.run(["import", "-window", "root", str(path)], env=env, check=True)
        subprocess.run(["xdotool", "key", "ctrl+q"], env=env, check=False)
        proc.wait(timeout=20)
        return path
    finally:
        if proc.poll() is None:
            proc.kill()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["1366x768", "1920x1080"])
    ap.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--scene", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.scene:
        return run_scene(args.scene)
    args.out.mkdir(parents=True, exist_ok=True)
    for n, size in enumerate(args.sizes):
        display = f":{91 + n}"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{size}x24", "-nolisten", "tcp"])
        time.sleep(1.5)
        wm = subprocess.Popen(["openbox"], env={**os.environ, "DISPLAY": display}, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        try:
            for scene in args.scenes:
                print("wrote", grab(scene, size, args.out, display), flush=True)
        finally:
            wm.terminate()
            xvfb.terminate()
            wm.wait(5)
            xvfb.wait(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
