"""Entry point for the studio window (kept separate so the CLI never imports Qt unless asked)."""

from __future__ import annotations

import sys


def run_app(argv: list[str] | None = None) -> int:
    from .gui.main_window import launch

    return launch(argv if argv is not None else sys.argv)
