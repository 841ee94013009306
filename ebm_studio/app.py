"""Entry point for the studio window (kept separate so the CLI never imports Qt unless asked)."""

from __future__ import annotations

import os
import sys


def run_app(argv: list[str] | None = None) -> int:
    # before anything imports torch: OpenMP reads its wait policy once, when it loads (core/device.py)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from .gui.main_window import launch

    return launch(argv if argv is not None else sys.argv)
