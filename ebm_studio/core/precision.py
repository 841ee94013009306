"""Reduced-precision arithmetic where the hardware makes it pay: bfloat16 autocast.

On CPUs with AMX or AVX-512 BF16 units (Intel Sapphire Rapids and later, AMD Zen 4+) oneDNN runs
bfloat16 convolutions several times faster than float32; on this project's energy net a Langevin
step is ~1.7x and a denoising-score-matching update ~1.5x faster, with the input gradient within
0.3 % of float32 (benchmarks/PERF.md). Autocast keeps what needs range or accuracy (the loss,
reductions, the optimizer's weights and moments) in float32; only the network's arithmetic drops
to bfloat16. ``"auto"`` uses it where it is fast (such CPUs; CUDA devices with bf16 support) and
float32 elsewhere, so a machine without the units never pays for emulated bfloat16.
"""

from __future__ import annotations

import contextlib

import torch


def bf16_is_fast(device: torch.device | str) -> bool:
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        try:
            return bool(cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported())
        except AttributeError:  # an older torch without the probes: stay exact
            return False
    return False


def autocast_dtype(setting: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for a ``precision`` setting on ``device`` (None = plain float32)."""
    if setting == "fp32":
        return None
    if setting == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if bf16_is_fast(device) else None


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``'s type, or a no-op when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
