"""Checks of a run's ``trainer.safetensors`` against the trainer it is meant to resume.

The file is loaded only after it fits: optimiser moments of the parameters' shapes and a real
float dtype, a parameter-group layout of the optimiser's, a step and recovery count that are
non-negative integers, finite hyper-parameters and a finite, positive base learning rate within
the config's bounds, an RNG state of the generator's size, and family extras of the shapes the
trainer holds. Anything else is a :class:`CheckpointError` naming the file and the field, raised
before the trainer is touched, so a bad state never half-loads and never blocks using the model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

MAX_BASE_LR = 10.0  # the config's own bound on train.lr


def check_meta(meta: Any, path: Path) -> dict[str, Any]:
    """The metadata's fields, type-checked (what can be checked without a trainer)."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: trainer state metadata is missing or malformed")
    step = meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < 2**62:
        raise CheckpointError(f"{path}: trainer state step {step!r} is not a non-negative integer")
    rec = meta.get("recoveries", 0)
    if not isinstance(rec, int) or isinstance(rec, bool) or not 0 <= rec < 2**31:
        raise CheckpointError(f"{path}: trainer state recoveries {rec!r} is not a non-negative integer")
    if not isinstance(meta.get("param_groups"), list):
        raise CheckpointError(f"{path}: trainer state has no optimiser parameter groups")
    if "base_lr" in meta:
        lr = meta["base_lr"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
                or not 0 < lr <= MAX_BASE_LR:
            raise CheckpointError(f"{path}: stored base learning rate {lr!r} is not finite and in (0, {MAX_BASE_LR}]")
    return meta


def _finite_numbers(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, (int, float)):
        return math.isfinite(value) and abs(value) < 1e12
    if isinstance(value, (list, tuple)):
        return all(_finite_numbers(v) for v in value)
    return True


def check_against(trainer, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: Path) -> None:
    """Raise unless ``tensors``/``meta`` describe a state ``trainer.load_state`` can take as it is."""
    groups = trainer.optimizer.param_groups
    params = [p for g in groups for p in g["params"]]
    stored = meta["param_groups"]
    if len(stored) != len(groups):
        raise CheckpointError(f"{path}: optimiser state has {len(stored)} parameter groups, "
                              f"the model needs {len(groups)}")
    for i, (g, ref) in enumerate(zip(stored, groups)):
        if not isinstance(g, dict) or not isinstance(g.get("params"), list) or len(g["params"]) != len(ref["params"]):
            raise CheckpointError(f"{path}: optimiser parameter group {i} is not the size of the model's "
                                  f"({len(ref['params'])} tensors)")
        if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < len(params) for p in g["params"]):
            raise CheckpointError(f"{path}: optimiser parameter group {i} names parameters the model lacks")
        if "lr" not in g or any((k in g) != (k in ref) for k in ("betas", "momentum")):
            raise CheckpointError(f"{path}: optimiser parameter group {i} is for another optimiser")
        bad = [k for k, v in g.items() if k != "params" and not _finite_numbers(v)]
        if bad:
            raise CheckpointError(f"{path}: optimiser setting {bad[0]!r} = {g[bad[0]]!r} is not finite")
    for key, t in tensors.items():
        if t.is_complex() or (t.is_floating_point() and not torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {key!r} contains complex, NaN or infinite values")
        if key.startswith("optim."):
            parts = key.split(".", 2)
            if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(params):
                raise CheckpointError(f"{path}: optimiser tensor {key!r} names no parameter of the model")
            ref = params[int(parts[1])]
            if t.ndim == 0:
                if t.is_floating_point() and float(t) < 0:
                    raise CheckpointError(f"{path}: optimiser counter {key!r} is negative")
                continue
            if tuple(t.shape) != tuple(ref.shape) or not t.is_floating_point():
                raise CheckpointError(f"{path}: optimiser tensor {key!r} has shape {tuple(t.shape)} {t.dtype}, "
                                      f"its parameter is {tuple(ref.shape)} floating point")
    rng = trainer.generator.get_state()
    if "rng" in tensors and (tensors["rng"].dtype != torch.uint8 or tensors["rng"].numel() != rng.numel()):
        raise CheckpointError(f"{path}: random generator state is not of this generator's size")
    if "extra.base_lr" in tensors:
        lr = tensors["extra.base_lr"].double().reshape(-1)
        if lr.numel() != 1 or not math.isfinite(float(lr[0])) or not 0 < float(lr[0]) <= MAX_BASE_LR:
            raise CheckpointError(f"{path}: stored base learning rate is not finite and in (0, {MAX_BASE_LR}]")
    fresh = trainer.extra_state()
    for key, t in tensors.items():
        if key.startswith("extra."):
            ref = fresh.get(key[len("extra."):])
            if ref is not None and tuple(t.shape) != tuple(ref.shape):
                raise CheckpointError(f"{path}: {key!r} has shape {tuple(t.shape)}, this model's trainer holds "
                                      f"{tuple(ref.shape)}")
