"""The recovery-likelihood sampler: down the noise ladder one level at a time, each level a few
Langevin steps on p(x_s | the image at the level above) (Gao et al. 2021).

Samples from noise are drawn the way the negatives are (:func:`recovery_chain`): from the base's draw
at sigma_max, level by level down a geometric ladder whose ratio is the training gap's, the same
few conditional Langevin steps at each. Short-run chains teach an energy that is right for *that*
sampler (Nijkamp et al. 2019): a chain that ignores the tether to the level above (the fast
predictor-corrector chain of score matching) runs off to images the training never visited.

The same moves (:func:`conditional_step`) draw the trainer's negatives (:mod:`recovery`).
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from ..accel import sampling_start
from ..chain import ChainStep
from .langevin import evaluator
from .schedules import sigma_ladder

MAX_PULL = 1.5  # the energy's pull in one move, at most, per pixel, in units of the level's sigma


def conditional_step(x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor, sigma: torch.Tensor, gap: torch.Tensor,
                     step: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One Langevin move on p(x | y) ∝ exp(-E(x, s) - |x - y|^2 / (2 d^2)), given ``grad`` = dg/dx at x of the
    model's output g = s E; ``sigma`` and ``gap`` broadcast against x (one per image or one for all).

    The step is ``step`` times the conditional's variance v = s^2 d^2 / (s^2 + d^2) were E locally the
    blurred data's Gaussian (curvature 1 / s^2), and its noise is sqrt(2a (1 - step / 2)) instead of
    Langevin's sqrt(2a): for a Gaussian that keeps the chain's stationary variance v exactly at any step
    (plain Langevin's grows as v / (1 - step / 2)), so a few large steps do not leave noise behind;
    ``step`` = 1 is one exact draw from that Gaussian.

    The energy's pull a * grad / s is capped at ``MAX_PULL`` * s per pixel (root mean square over an
    image): a sound energy pulls less than the noise the level carries, while a step on an energy
    grown too steep overshoots, and contrastive training then raises the walls it landed on, the
    runaway that ends a maximum-likelihood run."""
    a = step * (sigma * sigma * gap * gap) / (sigma * sigma + gap * gap)
    pull = a * grad / sigma
    rms = pull.flatten(1).pow(2).mean(1).sqrt().view(-1, *([1] * (x.dim() - 1)))
    pull = pull * (MAX_PULL * sigma / rms.clamp_min(1e-12)).clamp(max=1.0)
    noise = (2.0 * a * max(1.0 - 0.5 * step, 0.0)).sqrt()
    return x - pull - a * (x - y) / (gap * gap) + noise * torch.randn(x.shape, generator=generator, device=x.device)


def recovery_plan(sigmas: list[float], steps: int) -> list[tuple[float, float, bool]]:
    """(level, gap to the level above, first step of the level?) for each move of a recovery chain
    down ``sigmas`` with ``steps`` moves a level."""
    return [(s, math.sqrt(above * above - s * s), k == 0)
            for above, s in zip(sigmas[:-1], sigmas[1:]) for k in range(steps)]


def recovery_ladder(sampler, top: float | None = None) -> list[float]:
    """The recovery chain's geometric levels from ``top`` (default sigma_max; the canvas starts lower)
    down to sigma_min of the run's ``sampler`` config, as many as ``SamplerConfig.recovery_levels``."""
    top = max(sampler.sigma_max if top is None else top, sampler.sigma_min)
    return sigma_ladder(top, sampler.sigma_min, sampler.recovery_levels(top))


def recovery_chain(energy_fn, x0: torch.Tensor, sigmas: list[float], steps: int, step: float,
                   mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                   precision: torch.dtype | None = None, compile: bool = False,
                   add_noise: bool = True) -> Iterator[ChainStep]:
    """Sample by recovery down ``sigmas`` (:func:`recovery_ladder`): ``x0`` plus sigmas[0] noise, then
    at each lower level ``steps`` :func:`conditional_step` moves tethered to the image the level above
    ended with, then Tweedie's denoising at the last level. ``mask`` (True = keep) holds those pixels at ``x0``'s values
    (inpainting); ``add_noise`` False: ``x0`` already carries noise of level sigmas[0] (denoising).
    Yields the start and every step (the energy and gradient evaluated once a step, at
    the level of the step to come); the last image is clamped to [0, 1]."""
    keep = None if mask is None else mask.to(x0.device).bool().expand_as(x0)
    plan = recovery_plan(sigmas, steps)
    with sampling_start(energy_fn, x0) as x0:
        held = x0.detach().float()
        evaluate = evaluator(energy_fn, precision, compile)
        x = held + sigmas[0] * torch.randn(x0.shape, generator=generator, device=x0.device) if add_noise else held
        if keep is not None:
            x = torch.where(keep, held, x)
        e, g = evaluate(x, plan[0][0] if plan else sigmas[-1])
        yield ChainStep(0, x, e, g)
        y = x
        for j, (s, d, first) in enumerate(plan):
            if first:
                y = x  # the image the level above ended with
            x = conditional_step(x, y, g, torch.tensor(s), torch.tensor(d), step, generator)
            if keep is not None:
                x = torch.where(keep, held, x)
            e, g = evaluate(x, plan[j + 1][0] if j + 1 < len(plan) else sigmas[-1])
            yield ChainStep(j + 1, x, e, g)
        x = (x - sigmas[-1] * g).clamp(0.0, 1.0)  # Tweedie: E[x_0 | x] at the last level
        if keep is not None:
            x = torch.where(keep, held, x)
        yield ChainStep(len(plan) + 1, x, e, g)
