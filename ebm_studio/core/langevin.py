"""Unadjusted Langevin dynamics on an energy: x <- x - step * clip(dE/dx) + noise * N(0, 1).

A generator that yields a :class:`ChainStep` after every update, so a caller can watch, pause,
step or stop any chain (the canvas plays it; the trainer drives it for negative samples).
Per-pixel gradient clipping keeps a young, rough energy from throwing pixels around; clamping
keeps images in the pixel range; ``mask`` marks pixels held fixed at their initial values
(inpainting). The convenience calls return the final samples or every k-th snapshot (the seed's
``langevin_samples`` and ``sequential_langevin_samples``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from .chain import ChainStep

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class LangevinSettings:
    steps: int = 60
    step_size: float = 10.0
    noise: float = 0.005
    grad_clip: float | None = 0.03
    clamp: tuple[float, float] | None = (0.0, 1.0)


def energy_and_grad(energy_fn: EnergyFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E(x) per image and dE/dx, without building a graph for the model's parameters."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        e = energy_fn(x)
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def langevin_chain(
    energy_fn: EnergyFn,
    x0: torch.Tensor,
    steps: int = 60,
    step_size: float = 10.0,
    noise: float = 0.005,
    grad_clip: float | None = 0.03,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    settings: Callable[[], LangevinSettings] | None = None,
    yield_initial: bool = True,
) -> Iterator[ChainStep]:
    """Run ``steps`` Langevin updates from ``x0``, yielding after each one.

    ``mask`` (broadcastable to x, 1 = clamped) keeps those pixels at their values in ``x0``.
    ``settings``, if given, is called before every step so step size / noise / clip can change
    while the chain runs (the GUI's sliders); ``steps`` then also comes from it.
    The model's parameter gradients are untouched.
    """
    x = x0.detach().clone()
    if clamp is not None:
        x.clamp_(*clamp)
    keep = None
    if mask is not None:
        keep = mask.to(dtype=torch.bool, device=x.device).expand_as(x)
        fixed = x0.detach().to(x.dtype)
    noise_buf = torch.empty_like(x)
    e, g = energy_and_grad(energy_fn, x)
    if yield_initial:
        yield ChainStep(0, x, e, g)
    k = 0
    while True:
        if settings is not None:
            s = settings()
            steps, step_size, noise, grad_clip, clamp = s.steps, s.step_size, s.noise, s.grad_clip, s.clamp
        if k >= steps:
            return
        if grad_clip is not None and grad_clip > 0:
            g = g.clamp(-grad_clip, grad_clip)
        x.add_(g, alpha=-step_size)
        if noise > 0:
            noise_buf.normal_(generator=generator)
            x.add_(noise_buf, alpha=noise)
        if clamp is not None:
            x.clamp_(*clamp)
        if keep is not None:
            x = torch.where(keep, fixed, x)
        k += 1
        e, g = energy_and_grad(energy_fn, x)
        yield ChainStep(k, x, e, g)


def langevin_samples(energy_fn: EnergyFn, x0: torch.Tensor, **kwargs) -> torch.Tensor:
    """Final state of the chain (the seed's ``langevin_samples``)."""
    last = None
    for last in langevin_chain(energy_fn, x0, yield_initial=False, **kwargs):
        pass
    return (x0.detach().clone() if last is None else last.x).detach()


def sequential_langevin_samples(energy_fn: EnergyFn, x0: torch.Tensor, every: int = 10, **kwargs) -> torch.Tensor:
    """Snapshots every ``every`` steps, shape (T, N, 1, 28, 28), initial state first."""
    frames = []
    last_step = None
    for st in langevin_chain(energy_fn, x0, **kwargs):
        last_step = st
        if st.step % every == 0:
            frames.append(st.x.detach().clone())
    if last_step is not None and last_step.step % every != 0:
        frames.append(last_step.x.detach().clone())
    return torch.stack(frames)


def uniform_noise(n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    return torch.rand((n, 1, 28, 28), generator=generator, device=device)
