"""Run directories and checkpoints: safetensors for tensors, TOML for the config, CSV for metrics.

A run directory holds ``model.safetensors`` (weights), ``config.toml`` (everything needed to
rebuild the model and reproduce the run), ``trainer.safetensors`` (optimizer moments, replay
buffer, RNG state; lets training resume exactly where it stopped) and ``metrics.csv``.

Nothing is ever unpickled: user files are untrusted, and safetensors + TOML cannot execute code.
Every failure to load becomes a one-line :class:`CheckpointError` naming the file and the problem.

Saves are ordered so that a kill at any instant leaves a run that opens: each file is written
atomically (see :mod:`atomic`), the config first, then the weights, then the trainer state. The
weights and the trainer state both carry the step they were saved at; a trainer state of another
step than the weights (a kill between the two writes) or one that does not fit the model is not
used, and never stands in the way of the model: ``load_run`` records why in ``trainer_problem``,
and :func:`resume_trainer` either says so or, with ``fresh_optimizer``, continues from the model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write_text, clean_stale_temps
from .config import RunConfig, config_to_toml, load_config
from .errors import CheckpointError, ConfigError
from .families import build_model, make_trainer
from .metrics_log import MetricsError, MetricsLog, last_step, read_metrics  # noqa: F401  (MetricsLog: re-export)
from .tensor_files import load_tensors, save_tensors  # noqa: F401  (re-exported for older importers)
from .trainer_state import check_against, check_meta

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.toml"
TRAINER_FILE = "trainer.safetensors"
METRICS_FILE = "metrics.csv"
RUN_FILES = (MODEL_FILE, CONFIG_FILE, TRAINER_FILE, METRICS_FILE)
FRESH_OPTIMIZER_HINT = "resume with --fresh-optimizer to continue from the model with a new optimiser"


@dataclass
class LoadedRun:
    model: nn.Module
    config: RunConfig
    path: Path
    trainer_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    trainer_meta: dict[str, Any] | None = None
    model_step: int | None = None  # the step the weights were saved at (None: not recorded)
    trainer_problem: str | None = None  # why trainer.safetensors cannot be used (None: fine or absent)
    notice: str | None = None  # what resume_trainer did differently (e.g. a fresh optimiser), for the user


def save_run(run_dir: str | os.PathLike, model: nn.Module, cfg: RunConfig, trainer=None,
             meta: dict[str, Any] | None = None) -> Path:
    """Write config, weights and (if given) trainer state into ``run_dir``, in that order, each atomically."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: is a file, not a run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(run_dir, RUN_FILES)
    info = {"family": cfg.model.family, "format": "ebm-studio/1"}
    meta = dict(meta or {})
    if trainer is not None:
        info["step"] = str(trainer.step)
        meta.setdefault("step", trainer.step)
    atomic_write_text(run_dir / CONFIG_FILE, config_to_toml(cfg, meta))
    save_tensors(run_dir / MODEL_FILE, model.state_dict(), info)
    if trainer is not None:
        save_tensors(run_dir / TRAINER_FILE, trainer.state_tensors(),
                     {"meta": json.dumps(trainer.state_meta()), "format": "ebm-studio/1", "step": str(trainer.step)})
    return run_dir


def resolve_run_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """Accept a run directory, its ``model.safetensors`` or its ``config.toml``."""
    try:
        return _resolve_run_paths(Path(path))
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links...
        raise CheckpointError(f"{str(path)[:200]}: not a usable path ({exc.__class__.__name__})") from None


def _resolve_run_paths(path: Path) -> tuple[Path, Path]:
    if str(path) in ("", "."):
        raise CheckpointError("no model given (an empty path)")
    if path.is_dir():
        return path / MODEL_FILE, path / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or run directory")
    if path.suffix == ".toml":
        return path.parent / MODEL_FILE, path
    return path, path.with_name(CONFIG_FILE) if (path.with_name(CONFIG_FILE)).exists() else path.with_suffix(".toml")


def _step_of(info: dict[str, str]) -> int | None:
    text = info.get("step", "")
    return int(text) if text.isdigit() and len(text) < 19 else None


def load_run(path: str | os.PathLike, device: torch.device | str = "cpu",
             with_trainer_state: bool = False) -> LoadedRun:
    """Rebuild the model of a run directory or checkpoint, validating everything it reads.

    A trainer state that cannot be used does not raise: ``trainer_problem`` says why.
    """
    weights_path, config_path = resolve_run_paths(path)
    if not config_path.exists():
        raise CheckpointError(f"{weights_path}: no {CONFIG_FILE} beside it, so the model cannot be rebuilt "
                              f"(a checkpoint needs the config.toml saved with it)")
    clean_stale_temps(weights_path.parent, RUN_FILES)
    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    if not weights_path.exists() and weights_path.name == MODEL_FILE:
        raise CheckpointError(f"{weights_path}: no weights saved yet (the run has its config only)")
    tensors, info = load_tensors(weights_path)
    if info.get("family", cfg.model.family) != cfg.model.family:
        raise CheckpointError(f"{weights_path}: weights are for family {info.get('family')!r}, "
                              f"config says {cfg.model.family!r}")
    try:
        model = build_model(cfg)
    except (NotImplementedError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: cannot build the model ({exc})") from None
    _load_state_checked(model, tensors, weights_path)
    model.to(device)
    model.eval()
    run = LoadedRun(model, cfg, weights_path.parent, model_step=_step_of(info))
    trainer_path = weights_path.parent / TRAINER_FILE
    if with_trainer_state and os.path.lexists(trainer_path):
        try:
            run.trainer_tensors, run.trainer_meta = _read_trainer_state(trainer_path, run.model_step)
        except CheckpointError as exc:
            run.trainer_problem = str(exc)
    return run


def _read_trainer_state(path: Path, model_step: int | None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, info = load_tensors(path)
    try:
        meta = json.loads(info.get("meta", ""))
    except (ValueError, TypeError, RecursionError):
        raise CheckpointError(f"{path}: trainer state metadata is missing or malformed") from None
    meta = check_meta(meta, path)
    if model_step is not None and meta["step"] != model_step:
        raise CheckpointError(f"{path}: trainer state is from step {meta['step']}, the weights from step {model_step} "
                              f"(a save was interrupted)")
    return tensors, meta


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
            raise CheckpointError(f"{path}: {key} has shape {tuple(t.shape)}, "
                                  f"the config's model needs {tuple(ref.shape)}")
        if t.dtype != ref.dtype:
            if not (t.is_floating_point() and ref.is_floating_point()):
                raise CheckpointError(f"{path}: {key} has dtype {t.dtype}, expected {ref.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: {key} contains NaN or infinite values")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def resume_trainer(run: LoadedRun, data: torch.Tensor, device=None, fresh_optimizer: bool = False):
    """A trainer that continues the loaded run exactly where it stopped.

    With ``fresh_optimizer`` (or when the run has no trainer state), it continues from the model's
    weights with a new optimiser, at the step the weights were saved at; ``run.notice`` says so.
    A trainer state that does not fit raises :class:`CheckpointError` naming trainer.safetensors,
    unless ``fresh_optimizer`` is given.
    """
    trainer_path = run.path / TRAINER_FILE
    start = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    trainer = make_trainer(run.config, data, model=run.model, device=device)
    problem = run.trainer_problem
    if run.trainer_meta is not None and not fresh_optimizer and problem is None:
        try:
            check_against(trainer, run.trainer_tensors, run.trainer_meta, trainer_path)
            trainer.load_state(run.trainer_tensors, run.trainer_meta)
            _check_lr(trainer, trainer_path)
            return trainer
        except CheckpointError as exc:
            problem = str(exc)
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError, OverflowError) as exc:
            problem = f"{trainer_path}: trainer state does not fit this model ({str(exc).splitlines()[0][:160]})"
        run.model.load_state_dict(start)  # undo whatever the failed load changed, then start over
        trainer = make_trainer(run.config, data, model=run.model, device=device)
    if problem is not None and not fresh_optimizer:
        raise CheckpointError(f"{problem}; {FRESH_OPTIMIZER_HINT}")
    step = run.model_step if run.model_step is not None else _last_logged_step(run.path)
    trainer.step = step
    if fresh_optimizer or problem is not None:
        why = f" ({problem})" if problem else ""
        run.notice = f"continuing from the model's weights at step {step} with a new optimiser{why}"
    return trainer


def _check_lr(trainer, path: Path) -> None:
    lr = trainer.lr
    if not (lr == lr and 0 < lr < float("inf")):
        raise CheckpointError(f"{path}: the resumed learning rate is {lr}, not a finite positive number")


def _last_logged_step(run_dir: Path) -> int:
    """The last step in a run's metrics.csv (0 if none or unreadable), so a weights-only run resumes after it."""
    metrics = Path(run_dir) / METRICS_FILE
    if not Path(run_dir).is_dir() or not os.path.lexists(metrics):
        return 0
    try:
        return last_step(read_metrics(metrics))
    except MetricsError:
        return 0
