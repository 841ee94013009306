"""Unadjusted Langevin dynamics on an energy: x <- x - step * clip(dE/dx) + noise * N(0, 1).

A generator that yields a :class:`ChainStep` after every update, so a caller can watch, pause,
step or stop any chain (the canvas plays it; the trainer drives it for negative samples).
Per-pixel gradient clipping keeps a young, rough energy from throwing pixels around; clamping
keeps images in the pixel range; ``mask`` marks pixels held fixed at their initial values
(inpainting). ``langevin_samples`` returns the final samples (the seed's ``langevin_samples``).
The schedules a chain may follow are in :mod:`schedules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from ..accel import sampling_start
from ..chain import ChainStep, drain
from .compiled import compiled_energy_and_grad
from .gradient import EnergyFn, energy_and_grad, takes_sigma


@dataclass
class LangevinSettings:
    steps: int = 60
    step_size: float = 10.0
    noise: float = 0.005
    grad_clip: float | None = 0.03
    clamp: tuple[float, float] | None = (0.0, 1.0)
    sigma: float | None = None  # noise level a noise-conditional energy is evaluated at (None: its default)


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
    schedule: Sequence[tuple[float, ...]] | None = None,
    precision: torch.dtype | None = None,
    compile: bool = False,
) -> Iterator[ChainStep]:
    """Run ``steps`` Langevin updates from ``x0``, yielding after each one.

    ``mask`` (broadcastable to x, 1 = clamped) keeps those pixels at their values in ``x0``.
    ``settings``, if given, is called before every step so step size / noise / clip can change
    while the chain runs (the GUI's sliders); ``steps`` then also comes from it.
    ``schedule``, if given, is a list of (step_size, noise[, sigma]) per step (annealed Langevin,
    see :mod:`schedules`); it sets the number of steps. ``sigma`` is the noise level a
    noise-conditional energy is evaluated at for that step; the yielded energy and gradient are
    at the level of the step that follows (the one evaluation a step that both need).
    ``precision``: autocast dtype of the energy's evaluations (see ``precision.py``); the chain's
    state stays float32. ``compile``: evaluate through ``compiled.py`` (noise-conditional conv
    energies; falls back to eager). The model's parameter gradients are untouched.
    """
    if schedule is not None:
        schedule = list(schedule)
        steps = len(schedule)
    with sampling_start(energy_fn, x0) as x0:
        yield from _chain(energy_fn, x0, steps, step_size, noise, grad_clip, clamp, mask, generator, settings,
                          yield_initial, schedule, precision, compile)


def evaluator(energy_fn, precision, compile: bool):
    """``f(x, sigma) -> (E, dE/dx)``: compiled where asked and possible, else eager."""
    compiled = None
    if compile and isinstance(energy_fn, nn.Module) and takes_sigma(energy_fn):
        compiled = compiled_energy_and_grad(energy_fn, precision)

    def evaluate(x, sigma):
        nonlocal compiled
        if compiled is not None:
            out = compiled(x, sigma)
            if out is not None:
                return out
            compiled = None
        return energy_and_grad(energy_fn, x, sigma, precision)

    return evaluate


def _chain(energy_fn, x0, steps, step_size, noise, grad_clip, clamp, mask, generator, settings, yield_initial,
           schedule, precision=None, compile=False) -> Iterator[ChainStep]:
    evaluate = evaluator(energy_fn, precision, compile)
    x = x0.detach().clone()
    if clamp is not None:
        x.clamp_(*clamp)
    keep = None
    if mask is not None:
        keep = mask.to(dtype=torch.bool, device=x.device).expand_as(x)
        fixed = x0.detach().to(x.dtype)
    noise_buf = torch.empty_like(x)
    level = schedule[0][2] if schedule and len(schedule[0]) > 2 else None
    if settings is not None:
        level = settings().sigma
    e, g = evaluate(x, level)
    if yield_initial:
        yield ChainStep(0, x, e, g)
    k = 0
    while True:
        if settings is not None:
            s = settings()
            steps, step_size, noise, grad_clip, clamp = s.steps, s.step_size, s.noise, s.grad_clip, s.clamp
            sigma = s.sigma
        if k >= steps:
            return
        if schedule is not None:
            step_size, noise, *rest = schedule[k]
            sigma = rest[0] if rest else None
        elif settings is None:
            sigma = None
        if sigma != level:
            level = sigma
            if takes_sigma(energy_fn):  # a new noise level: the gradient must be taken at it
                e, g = evaluate(x, level)
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
        if schedule is not None and k < steps and len(schedule[k]) > 2 and takes_sigma(energy_fn):
            level = schedule[k][2]  # the next step's level: one evaluation serves it, not two
        e, g = evaluate(x, level)
        yield ChainStep(k, x, e, g)


def langevin_samples(energy_fn: EnergyFn, x0: torch.Tensor, **kwargs) -> torch.Tensor:
    """Final state of the chain (the seed's ``langevin_samples``)."""
    last = drain(langevin_chain(energy_fn, x0, yield_initial=False, **kwargs))
    return (x0.detach().clone() if last is None else last.x).detach()


def uniform_noise(n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    return torch.rand((n, 1, 28, 28), generator=generator, device=device)
