"""Run directories and checkpoints: safetensors for tensors, TOML for the config, CSV for metrics.

A run directory holds ``model.safetensors`` (weights), ``config.toml`` (everything needed to
rebuild the model and reproduce the run), ``trainer.safetensors`` (optimizer moments, replay
buffer, RNG state; lets training resume exactly where it stopped) and ``metrics.csv``.

Nothing is ever unpickled: user files are untrusted, and safetensors + TOML cannot execute code.
Every failure to load becomes a one-line :class:`CheckpointError` naming the file and the problem.
All writes are atomic (see :mod:`atomic`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write_bytes, atomic_write_text
from .config import RunConfig, config_to_toml, load_config
from .errors import CheckpointError, ConfigError
from .families import build_model, make_trainer
from .files import checked_size

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.toml"
TRAINER_FILE = "trainer.safetensors"
METRICS_FILE = "metrics.csv"
MAX_CHECKPOINT_BYTES = 2 << 30  # 2 GiB: our models are a few MB


@dataclass
class LoadedRun:
    model: nn.Module
    config: RunConfig
    path: Path
    trainer_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    trainer_meta: dict[str, Any] | None = None


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save

    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, save(clean, metadata=metadata))


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file fully into memory with validation; never unpickles."""
    from safetensors import safe_open

    path = Path(path)
    size = checked_size(path, CheckpointError, "a safetensors file")
    if size < 8:
        raise CheckpointError(f"{path}: truncated (only {size} bytes)")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path}: {size} bytes is larger than any EBM Studio checkpoint")
    try:
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
        if header_len <= 1 or header_len > min(size - 8, 100 << 20):
            raise CheckpointError(f"{path}: not a safetensors file (bad header length)")
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error types, OSError, ValueError...
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: corrupt or not a safetensors file ({msg[:160]})") from None
    return tensors, dict(meta)


def save_run(run_dir: str | os.PathLike, model: nn.Module, cfg: RunConfig, trainer=None,
             meta: dict[str, Any] | None = None) -> Path:
    """Write weights, config and (if given) trainer state into ``run_dir`` atomically, file by file."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    info = {"family": cfg.model.family, "format": "ebm-studio/1"}
    if trainer is not None:
        info["step"] = str(trainer.step)
        save_tensors(run_dir / TRAINER_FILE, trainer.state_tensors(),
                     {"meta": json.dumps(trainer.state_meta()), "format": "ebm-studio/1"})
    save_tensors(run_dir / MODEL_FILE, model.state_dict(), info)
    meta = dict(meta or {})
    if trainer is not None:
        meta.setdefault("step", trainer.step)
    atomic_write_text(run_dir / CONFIG_FILE, config_to_toml(cfg, meta))
    return run_dir


def resolve_run_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """Accept a run directory, its ``model.safetensors`` or its ``config.toml``."""
    path = Path(path)
    if path.is_dir():
        return path / MODEL_FILE, path / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or run directory")
    if path.suffix == ".toml":
        return path.parent / MODEL_FILE, path
    return path, path.with_name(CONFIG_FILE) if (path.with_name(CONFIG_FILE)).exists() else path.with_suffix(".toml")


def load_run(path: str | os.PathLike, device: torch.device | str = "cpu", with_trainer_state: bool = False) -> LoadedRun:
    """Rebuild the model of a run directory or checkpoint, validating everything it reads."""
    weights_path, config_path = resolve_run_paths(path)
    if not config_path.exists():
        raise CheckpointError(f"{config_path}: missing config next to the weights")
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    tensors, info = load_tensors(weights_path)
    if info.get("family", cfg.model.family) != cfg.model.family:
        raise CheckpointError(f"{weights_path}: weights are for family {info.get('family')!r}, config says {cfg.model.family!r}")
    try:
        model = build_model(cfg)
    except (NotImplementedError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: cannot build the model ({exc})") from None
    _load_state_checked(model, tensors, weights_path)
    model.to(device)
    model.eval()
    run = LoadedRun(model, cfg, weights_path.parent)
    trainer_path = weights_path.parent / TRAINER_FILE
    if with_trainer_state and trainer_path.exists():
        t_tensors, t_info = load_tensors(trainer_path)
        try:
            meta = json.loads(t_info.get("meta", ""))
            if not isinstance(meta, dict) or not isinstance(meta.get("step"), int) or meta["step"] < 0 \
                    or not isinstance(meta.get("param_groups"), list):
                raise ValueError("bad fields")
        except (ValueError, TypeError):
            raise CheckpointError(f"{trainer_path}: trainer state metadata is missing or malformed") from None
        for key, t in t_tensors.items():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise CheckpointError(f"{trainer_path}: tensor {key!r} contains NaN or infinite values")
        run.trainer_tensors, run.trainer_meta = t_tensors, meta
    return run


def _load_state_checked(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise CheckpointError(f"{path}: weights do not match the configured architecture ({detail})")
    for key, ref in expected.items():
        t = tensors[key]
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"{path}: {key} has shape {tuple(t.shape)}, the config's model needs {tuple(ref.shape)}")
        if t.dtype != ref.dtype:
            if not (t.is_floating_point() and ref.is_floating_point()):
                raise CheckpointError(f"{path}: {key} has dtype {t.dtype}, expected {ref.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: {key} contains NaN or infinite values")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def resume_trainer(run: LoadedRun, data: torch.Tensor, device=None):
    """A trainer that continues the loaded run exactly where it stopped."""
    trainer = make_trainer(run.config, data, model=run.model, device=device)
    if run.trainer_meta is not None:
        try:
            trainer.load_state(run.trainer_tensors, run.trainer_meta)
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as exc:
            raise CheckpointError(f"{run.path / TRAINER_FILE}: trainer state does not fit this model ({exc})") from None
    else:  # weights only (e.g. a shipped model): fresh optimizer, but the step count carries on
        trainer.step = _last_logged_step(run.path)
    return trainer


def _last_logged_step(run_dir: Path) -> int:
    """The last step in a run's metrics.csv (0 if none), so a weights-only run resumes after it."""
    metrics = Path(run_dir) / METRICS_FILE
    if not Path(run_dir).is_dir() or not metrics.exists():
        return 0
    try:
        rows = MetricsLog(metrics, ["step"]).rows
        return max(0, int(float(rows[-1].get("step") or 0))) if rows else 0
    except (ValueError, TypeError, OverflowError):
        return 0


class MetricsLog:
    """Append-only CSV of training records; re-written atomically on flush."""

    def __init__(self, path: str | os.PathLike, fields: list[str]):
        self.path = Path(path)
        self.fields = fields
        self.rows: list[dict[str, Any]] = []
        if self.path.exists():
            try:
                with open(self.path, newline="") as fh:
                    self.rows = list(csv.DictReader(fh))
            except (OSError, csv.Error, UnicodeDecodeError):
                self.rows = []

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append({k: row.get(k) for k in self.fields})

    def truncate_after(self, step: int) -> None:
        self.rows = [r for r in self.rows if int(float(r.get("step") or 0)) <= step]

    def flush(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields)
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in self.fields})
        atomic_write_text(self.path, buf.getvalue())
