"""Where the studio writes runs and drawings by default (``EBM_STUDIO_RUNS_DIR`` overrides it)."""

from __future__ import annotations

import os
from pathlib import Path


def default_runs_dir() -> Path:
    env = os.environ.get("EBM_STUDIO_RUNS_DIR")
    return Path(env) if env else Path.home() / "ebm-studio-runs"
