"""Unadjusted Langevin dynamics on an energy: x <- x - step * clip(dE/dx) + noise * N(0, 1).

A generator that yields a :class:`ChainStep` after every update, so a caller can watch, pause,
step or stop any chain (the canvas plays it; the trainer drives it for negative samples).
Per-pixel gradient clipping keeps a young, rough energy from throwing pixels around; clamping
keeps images in the pixel range; ``mask`` marks pixels held fixed at their initial values
(inpainting). The convenience calls return the final samples or every k-th snapshot (the seed's
``langevin_samples`` and ``sequential_langevin_samples``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from torch import nn

from .accel import sampling_mode, to_sampling_layout
from .chain import ChainStep
from .precision import autocast

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class LangevinSettings:
    steps: int = 60
    step_size: float = 10.0
    noise: float = 0.005
    grad_clip: float | None = 0.03
    clamp: tuple[float, float] | None = (0.0, 1.0)
    sigma: float | None = None  # noise level a noise-conditional energy is evaluated at (None: its default)


def takes_sigma(energy_fn) -> bool:
    """Whether ``energy_fn(x, sigma)`` depends on the noise level (a noise-conditional energy)."""
    return bool(getattr(energy_fn, "uses_sigma", False))


def energy_and_grad(energy_fn: EnergyFn, x: torch.Tensor, sigma: float | None = None,
                    precision: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """E(x) per image and dE/dx, without building a graph for the model's parameters. ``sigma`` is
    the noise level for a noise-conditional energy (ignored by others); ``precision`` an autocast
    dtype for the network's arithmetic (the results are float32 either way)."""
    with torch.enable_grad(), autocast(x.device, precision):
        x = x.detach().requires_grad_(True)
        e = energy_fn(x, sigma) if sigma is not None and takes_sigma(energy_fn) else energy_fn(x)
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach().float(), g.to(x.dtype)


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
    see :func:`annealed_schedule`); it sets the number of steps. ``sigma`` is the noise level a
    noise-conditional energy is evaluated at for that step; the yielded energy is at that level.
    ``precision``: autocast dtype of the energy's evaluations (see ``precision.py``); the chain's
    state stays float32. ``compile``: evaluate through ``compiled.py`` (noise-conditional conv
    energies; falls back to eager). The model's parameter gradients are untouched.
    """
    if schedule is not None:
        schedule = list(schedule)
        steps = len(schedule)
    with contextlib.ExitStack() as stack:
        if isinstance(energy_fn, nn.Module):
            stack.enter_context(sampling_mode(energy_fn))
            x0 = to_sampling_layout(x0, energy_fn)
        yield from _chain(energy_fn, x0, steps, step_size, noise, grad_clip, clamp, mask, generator, settings,
                          yield_initial, schedule, precision, compile)


def _evaluator(energy_fn, precision, compile: bool):
    """``f(x, sigma) -> (E, dE/dx)``: compiled where asked and possible, else eager."""
    compiled = None
    if compile and isinstance(energy_fn, nn.Module) and takes_sigma(energy_fn):
        from .compiled import compiled_energy_and_grad

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
    evaluate = _evaluator(energy_fn, precision, compile)
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
        e, g = evaluate(x, level)
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


def annealed_schedule(sigma_max: float, sigma_min: float, levels: int, steps_per_level: int, eps: float,
                      denoise: bool = True) -> list[tuple[float, float, float]]:
    """(step_size, noise, sigma) per step for annealed Langevin on a noise-conditional energy.

    Song & Ermon (2019): at noise level sigma_i take ``steps_per_level`` steps of size
    a_i = eps * sigma_i^2 / sigma_min^2 on the score -grad E(x)/sigma_i, i.e.
    x <- x - (a_i / sigma_i) grad E(x) + sqrt(2 a_i) xi. Large noise first lets chains from
    uniform noise find the digit manifold; small noise last sharpens the strokes. With
    ``denoise`` a final noise-free step of size sigma_min applies Tweedie's formula
    (x + sigma^2 * score), removing the last level's noise. Steps are on the gradient of the
    model's output g = sigma * E(x, sigma) (for the blind E(x)/sigma form, g = E(x)).
    """
    if levels < 1 or steps_per_level < 1:
        return []
    if levels == 1:
        sigmas = [sigma_min]
    else:
        ratio = (sigma_min / sigma_max) ** (1.0 / (levels - 1))
        sigmas = [sigma_max * ratio**i for i in range(levels)]
    out = []
    for s in sigmas:
        a = eps * (s / sigma_min) ** 2
        out += [(a / s, math.sqrt(2.0 * a), s)] * steps_per_level
    if denoise:
        out.append((sigma_min, 0.0, sigma_min))
    return out


def ancestral_schedule(sigma_max: float, sigma_min: float, steps: int, corrector: int = 0,
                       snr: float = 0.16) -> list[tuple[float, float, float]]:
    """(step_size, noise, sigma) per step for ancestral sampling of a noise-conditional energy.

    The reverse of the variance-exploding noising process (Ho et al. 2020; Song et al. 2021),
    driven by the energy's gradient: a first step adds noise of level sigma_max to the start
    image; then, going from level s to the next level s' of a geometric ladder, the exact
    Gaussian posterior step  x <- x + (s^2 - s'^2) * score + s' sqrt(1 - s'^2/s^2) * z,  with
    score = -grad g / s; the last step (s' = 0) is Tweedie's denoising. Unlike annealed Langevin
    it has no step-size knob: every step size follows from the ladder. Images leave [0, 1] in
    between (they are noisy images), so the chain is not clamped until its end.

    ``corrector`` Langevin steps at each level before moving on make it the predictor-corrector
    sampler of Song et al. (2021). Their step follows the signal-to-noise rule
    a = 2 (snr |z| / |score|)^2 with |score| ~ |z| / s, i.e. a = 2 snr^2 s^2, fixed in advance.
    """
    steps = max(1, int(steps))
    sigmas = [sigma_max * (sigma_min / sigma_max) ** (i / max(1, steps - 1)) for i in range(steps)] + [0.0]
    out = [(0.0, sigma_max, sigma_max)]
    for s, nxt in zip(sigmas[:-1], sigmas[1:]):
        a = 2.0 * (snr * s) ** 2
        out += [(a / s, math.sqrt(2.0 * a), s)] * max(0, int(corrector))
        d = s * s - nxt * nxt
        out.append((d / s, nxt * math.sqrt(d) / s, s))
    return out


def uniform_noise(n: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    return torch.rand((n, 1, 28, 28), generator=generator, device=device)
