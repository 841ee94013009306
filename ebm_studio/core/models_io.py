"""Finding models by name: a run directory, a checkpoint file, or ``pretrained`` (shipped)."""

from __future__ import annotations

from pathlib import Path

from .checkpoint import LoadedRun
from .errors import CheckpointError
from .resources import PRETRAINED_DIR, require
from .run_archive import load_run

DEFAULT_PRETRAINED = "conv"


def pretrained_path(name: str = DEFAULT_PRETRAINED) -> Path:
    return PRETRAINED_DIR / name


def available_pretrained() -> list[str]:
    if not PRETRAINED_DIR.is_dir():
        return []
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "model.safetensors").exists())


def open_model(spec: str | Path, device="cpu") -> LoadedRun:
    """``spec`` is a run dir / checkpoint path, ``pretrained`` or ``pretrained:NAME``."""
    s = str(spec)
    if s == "pretrained" or s.startswith("pretrained:"):
        name = s.partition(":")[2] or DEFAULT_PRETRAINED
        path = pretrained_path(name)
        if not (path / "model.safetensors").exists():
            require("pretrained")  # the whole folder gone: a broken installation, said so
            have = ", ".join(available_pretrained()) or "none"
            raise CheckpointError(f"no pretrained model named {name!r} (available: {have})")
        return load_run(path, device=device)
    return load_run(spec, device=device)
