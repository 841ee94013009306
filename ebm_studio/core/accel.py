"""Speed helpers for sampling: what a Langevin chain does not need, it should not pay for.

- Parameters stop requiring gradients for the duration of a chain: the chain differentiates
  with respect to the *input* only, and autograd otherwise records (and keeps alive) every
  weight's part of the graph.
- Optionally (``EBM_STUDIO_CHANNELS_LAST=1``) convolutional nets run in channels-last memory
  format; on this project's small nets and CPU it measured 5-10 % *slower*, so it is off by
  default (benchmarks/PERF.md).
Both are exact: samples equal those of the plain path up to float rounding (tests/core/test_accel.py).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
from torch import nn


def channels_last_enabled() -> bool:
    return os.environ.get("EBM_STUDIO_CHANNELS_LAST", "0") == "1"


@contextlib.contextmanager
def sampling_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Freeze parameters (and use channels-last for conv nets) while a chain runs; restore after."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    formats = []
    try:
        for p in params:
            p.requires_grad_(False)
        if has_conv and channels_last_enabled():
            for m in model.modules():
                if isinstance(m, nn.Conv2d):
                    formats.append((m, m.weight.data))
                    m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last)
        yield model
    finally:
        for m, data in formats:
            m.weight.data = data
        for p, f in zip(params, flags):
            p.requires_grad_(f)


@contextlib.contextmanager
def sampling_start(energy_fn, x0: torch.Tensor) -> Iterator[torch.Tensor]:
    """What every chain does before its first step: a module's parameters frozen (``sampling_mode``)
    while the chain runs and ``x0`` in its layout; a plain function runs as it is."""
    if not isinstance(energy_fn, nn.Module):
        yield x0
        return
    with sampling_mode(energy_fn):
        yield to_sampling_layout(x0, energy_fn)


def to_sampling_layout(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    if channels_last_enabled() and x.ndim == 4 and any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return x.contiguous(memory_format=torch.channels_last)
    return x
