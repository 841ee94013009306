"""An optional compiled Langevin step: ``torch.compile`` of the energy and its input gradient.

With bfloat16 autocast the convolutions get fast enough that the rest of a step (SiLU and its
gradient, FiLM scale/shift, casts and layout reorders between small ops) dominates; Inductor fuses
those element-wise ops and measured ×1.66 over the eager bf16 step for the default net at batch
128 on this CPU (benchmarks/PERF.md). Compiling costs ~30 s per model and batch shape (less once
Inductor's on-disk cache holds the kernels), so it pays for long sampling jobs (evaluating 1000
samples, comparisons), not for a canvas chain that must start at once. ``sampler.compile``:
"on" compiles every chain, "off" none, and "auto" (the default) only batch jobs of at least
``AUTO_MIN_IMAGE_STEPS`` image-steps (:func:`compile_batch_job`); single chains, the canvas and the
training panel's gallery stay eager.

The noise level enters as a tensor, never a Python float, so one compiled graph serves every
level of a ladder. Compiled functions are cached per model (weakly) and precision; any failure to
compile or run falls back, once and for good for that model, to the eager path with a warning.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Callable

import torch

from .gradient import energy_and_grad

AUTO_MIN_IMAGE_STEPS = 200_000  # ~30 s of eager bf16 sampling here: a cold compile is repaid by ~x1.6

_CACHE: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


def _make(model: torch.nn.Module, precision: torch.dtype | None) -> Callable:
    def model_energy_and_grad(x: torch.Tensor, sigma: torch.Tensor):
        return energy_and_grad(model, x, sigma, precision)

    return torch.compile(model_energy_and_grad, dynamic=False)


def compile_batch_job(setting: str, images: int, steps: int, device: torch.device | str = "cpu") -> bool:
    """Whether a batch job of ``images`` chains of ``steps`` steps should use the compiled step."""
    if setting == "on":
        return True
    if setting != "auto" or torch.device(device).type not in ("cpu", "cuda"):
        return False
    return images * steps >= AUTO_MIN_IMAGE_STEPS


def compiled_energy_and_grad(model: torch.nn.Module, precision: torch.dtype | None) -> Callable | None:
    """``f(x, sigma_float) -> (E, dE/dx)`` compiled for ``model``, or None if compiling failed
    before (the caller then uses the eager path)."""
    per_model = _CACHE.setdefault(model, {})
    if per_model.get("failed"):
        return None
    fn = per_model.get(precision)
    if fn is None:
        fn = per_model[precision] = _make(model, precision)

    def call(x: torch.Tensor, sigma: float | None):
        sig = torch.full((x.shape[0],), float(model.sigma_default if sigma is None else sigma), device=x.device)
        try:
            return fn(x, sig)
        except Exception as exc:  # an unsupported platform or op: never worse than eager
            per_model["failed"] = True
            warnings.warn(f"compiled sampling failed ({exc.__class__.__name__}: {str(exc)[:200]}); "
                          "continuing without compilation", RuntimeWarning, stacklevel=2)
            return None

    return call
