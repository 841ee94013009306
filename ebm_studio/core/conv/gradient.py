"""The energy of a batch of images and its input gradient: what every conv sampler steps on.

Langevin chains, the compiled step and the chain pool of contrastive refinement all need E(x) and
dE/dx without building a graph for the model's parameters; this is that one function.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..precision import autocast

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def takes_sigma(energy_fn) -> bool:
    """Whether ``energy_fn(x, sigma)`` depends on the noise level (a noise-conditional energy)."""
    return bool(getattr(energy_fn, "uses_sigma", False))


def energy_and_grad(energy_fn: EnergyFn, x: torch.Tensor, sigma=None,
                    precision: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """E(x) per image and dE/dx, without building a graph for the model's parameters. ``sigma`` is
    the noise level (a number or a tensor of one per image) for a noise-conditional energy (ignored
    by others); ``precision`` an autocast dtype for the network's arithmetic (the results are
    float32 either way)."""
    with torch.enable_grad(), autocast(x.device, precision):
        x = x.detach().requires_grad_(True)
        e = energy_fn(x, sigma) if sigma is not None and takes_sigma(energy_fn) else energy_fn(x)
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach().float(), g.to(x.dtype)


def tweedie_denoise(energy_fn, x: torch.Tensor, sigma: float, precision: torch.dtype | None = None) -> torch.Tensor:
    """The least-squares (MMSE) estimate E[x_0 | x] of images carrying Gaussian noise of level ``sigma``,
    by Tweedie's formula x + sigma^2 * score = x - sigma * dg/dx for the noise-conditional module's output
    g = sigma * E(x, sigma): one network evaluation, where a chain draws a sample of the clean digit.
    Evaluated on the model's device; the estimate comes back on ``x``'s."""
    tensors = [*energy_fn.parameters(), *energy_fn.buffers()] if isinstance(energy_fn, torch.nn.Module) else []
    device = tensors[0].device if tensors else x.device
    _, g = energy_and_grad(energy_fn, x.to(device), sigma, precision)
    return x - sigma * g.to(x.device)
