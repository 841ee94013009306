"""Few-step samplers of the noise-conditional energy: the solvers written for score models.

The noise-conditional conv energy returns g(x, sigma) = sigma * E(x, sigma), whose input gradient
denoising score matching trains to predict the noise: the score is -grad g / sigma, Tweedie's
denoiser is D(x, sigma) = x - sigma * grad g, and the probability-flow ODE of the variance-exploding
process is dx/dsigma = (x - D) / sigma = grad g. Every sampler built for a score or diffusion model
in that (EDM) form therefore applies to the energy unchanged, and needs far fewer network
evaluations than the predictor-corrector chain of :mod:`schedules` (two per level, 300 levels):

- ``euler``: the probability-flow ODE by Euler steps, i.e. DDIM; deterministic.
- ``heun``: EDM's second-order deterministic sampler (Karras et al. 2022, Algorithm 1): two
  evaluations a step, Euler on the last step to sigma = 0.
- ``dpm++2m``: DPM-Solver++(2M) (Lu et al. 2022), second order from the previous step's denoised
  image, one evaluation a step; deterministic.
- ``euler-a``: Euler ancestral (the posterior step of :func:`~.schedules.ancestral_step`, eta = 1)
  on the given ladder; stochastic.

They follow k-diffusion's ``sample_*`` loops over a ladder from :func:`~.schedules.sigma_ladder`
with a final 0, start from the base's draw plus sigma_max noise like the ancestral chain, and yield
a :class:`~..chain.ChainStep` after every step so a caller can show progress or stop. Images leave
[0, 1] in between (they are noisy images) and are clamped at the end.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch

from ..accel import sampling_start
from ..chain import ChainStep
from .langevin import evaluator
from .schedules import ancestral_step

SOLVERS = ("euler", "heun", "dpm++2m", "euler-a")


def solver_chain(energy_fn, x0: torch.Tensor, sigmas: Sequence[float], method: str = "heun",
                 generator: torch.Generator | None = None, precision: torch.dtype | None = None,
                 compile: bool = False) -> Iterator[ChainStep]:
    """Solve from ``x0`` (a draw of the base, in pixel space) along ``sigmas`` (descending, the
    last one 0 is appended if missing). Yields the start (step 0, x0 + sigmas[0] * z) and then
    the state after each step; the last one is clamped to [0, 1]."""
    if method not in SOLVERS:
        raise ValueError(f"unknown solver {method!r}; choose from {', '.join(SOLVERS)}")
    sigmas = [float(s) for s in sigmas]
    if not sigmas or sigmas[-1] != 0.0:
        sigmas.append(0.0)
    with sampling_start(energy_fn, x0) as x0:
        yield from _solve(evaluator(energy_fn, precision, compile), x0, sigmas, method, generator)


def _solve(evaluate, x0, sigmas, method, generator) -> Iterator[ChainStep]:
    x = x0.detach().clone().float()
    z = torch.empty_like(x)
    x.add_(z.normal_(generator=generator), alpha=sigmas[0])
    e, g = evaluate(x, sigmas[0])  # d = (x - D) / sigma = grad g, the ODE's slope
    yield ChainStep(0, x, e, g)
    last = len(sigmas) - 1
    old_denoised = None
    for i in range(last):
        s, nxt = sigmas[i], sigmas[i + 1]
        if i > 0:
            e, g = evaluate(x, s)
        if method == "euler":
            x = x + (nxt - s) * g
        elif method == "euler-a":
            step, noise = ancestral_step(s, nxt)
            x = x - step * g
            if noise > 0:
                x = x + noise * z.normal_(generator=generator)
        elif method == "heun":
            x_next = x + (nxt - s) * g
            if nxt > 0:  # the trapezoid: the slope at the Euler estimate too
                _, g2 = evaluate(x_next, nxt)
                x_next = x + (nxt - s) * 0.5 * (g + g2)
            x = x_next
        else:  # dpm++2m, in the data prediction: t = -log sigma, h = t' - t
            denoised = x - s * g
            if nxt == 0:
                x = denoised
            else:
                h = math.log(s / nxt)
                if old_denoised is not None:
                    r = math.log(sigmas[i - 1] / s) / h
                    denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
                else:
                    denoised_d = denoised
                x = (nxt / s) * x - math.expm1(-h) * denoised_d
            old_denoised = denoised
        if i == last - 1:
            x = x.clamp(0.0, 1.0)
        yield ChainStep(i + 1, x, e, g)
