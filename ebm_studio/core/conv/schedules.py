"""Sampling schedules as data: the noise ladder and the step each sampler takes on it.

Every noise-conditional sampler of the conv EBM walks the same geometric ladder of noise levels
from ``sigma_max`` down to ``sigma_min`` (:func:`sigma_ladder`), and every ancestral move from a
level s to the next one s' is the same exact Gaussian posterior step (:func:`ancestral_step`),
with the same signal-to-noise Langevin corrector before it (:func:`corrector_step`). The batch
sampler turns them into a list of (step_size, noise, sigma) per step that the Langevin chain
follows; the chain pool of contrastive refinement applies them to tensors of per-chain levels.
Writing them once keeps those two (and the canvas's SDEdit) from drifting apart.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

LADDERS = ("geometric", "karras")


def sigma_ladder(sigma_max: float, sigma_min: float, levels: int, kind: str = "geometric",
                 rho: float = 7.0) -> list[float]:
    """``levels`` noise levels from ``sigma_max`` down to ``sigma_min`` (one level: ``sigma_max``).

    ``geometric``: evenly spaced in log sigma (Song & Ermon 2019), the ladder the energy is trained
    on and the predictor-corrector sampler walks. ``karras``: evenly spaced in sigma^(1/rho)
    (Karras et al. 2022; k-diffusion's ``get_sigmas_karras``), between the linear ladder (rho = 1)
    and the geometric one (its limit as rho grows): with rho = 7 a few-step solver's truncation
    errors are about even along the way, where the geometric ladder spends many steps on the
    smallest levels, which barely change an image."""
    levels = max(1, int(levels))
    t = [i / max(1, levels - 1) for i in range(levels)]
    if kind == "karras":
        hi, lo = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
        return [(hi + u * (lo - hi)) ** rho for u in t]
    if kind != "geometric":
        raise ValueError(f"unknown sigma ladder {kind!r}; choose from {', '.join(LADDERS)}")
    return [sigma_max * (sigma_min / sigma_max) ** u for u in t]


def _sqrt(v):
    return v.sqrt() if isinstance(v, torch.Tensor) else math.sqrt(v)


def ancestral_step(s, nxt, eta: float = 1.0):
    """(step_size, noise) of the exact Gaussian posterior step of the variance-exploding process
    from level ``s`` to the lower level ``nxt``:  x <- x - step_size * grad g + noise * z,  where
    g = s * E(x, s) is the model's output, i.e.  x + (s^2 - s'^2) * score + s' sqrt(1 - s'^2/s^2) z
    with score = -grad g / s. ``nxt`` = 0 is Tweedie's denoising. Numbers or tensors of levels.

    ``eta`` scales the fresh noise as k-diffusion's ``get_ancestral_step`` does: the step goes down
    to sigma_down = sqrt(s'^2 - up^2) along the probability-flow ODE (step size s - sigma_down)
    and adds noise up = eta * s' sqrt(1 - s'^2/s^2); eta = 0 is the deterministic (DDIM) step,
    eta = 1 the posterior step above."""
    d = s * s - nxt * nxt
    if eta == 1.0:
        return d / s, nxt * _sqrt(d) / s
    up = eta * nxt * _sqrt(d) / s
    up = up.clamp(max=nxt) if isinstance(up, torch.Tensor) else min(up, nxt)
    return s - _sqrt(nxt * nxt - up * up), up


def corrector_step(s, snr: float):
    """(step_size, noise) of one Langevin corrector step at level ``s`` (Song et al. 2021): the
    signal-to-noise rule a = 2 (snr |z| / |score|)^2 with |score| ~ |z| / s, i.e. a = 2 snr^2 s^2,
    a step of a / s on grad g and noise sqrt(2 a). Numbers or tensors of levels."""
    a = 2.0 * (snr * s) ** 2
    return a / s, _sqrt(2.0 * a)


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
    sigmas = [sigma_min] if levels == 1 else sigma_ladder(sigma_max, sigma_min, levels)
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
    image; then, going from level s to the next level s' of the ladder, :func:`ancestral_step`;
    the last step (s' = 0) is Tweedie's denoising. Unlike annealed Langevin it has no step-size
    knob: every step size follows from the ladder. Images leave [0, 1] in between (they are noisy
    images), so the chain is not clamped until its end.

    ``corrector`` Langevin steps (:func:`corrector_step`) at each level before moving on make it
    the predictor-corrector sampler of Song et al. (2021).
    """
    return ladder_schedule(sigma_ladder(sigma_max, sigma_min, steps), lambda s: corrector, snr)


def fast_pc_schedule(sigma_max: float, sigma_min: float, levels: int, correctors: int = 4, snr: float = 0.3,
                     cut: float = 0.2, tail: int = 10) -> list[tuple[float, float, float]]:
    """(step_size, noise, sigma) per step of the fast predictor-corrector sampler: ``levels``
    geometric levels from sigma_max down to ``cut``, each with ``correctors`` Langevin corrector
    steps, then ``tail`` levels below ``cut`` down to sigma_min with none.

    Where the full sampler's corrector steps pay was measured on the shipped model
    (benchmarks/PERF.md): at large noise, where chains choose a digit's shape, they carry the
    quality; at small noise an ancestral step alone does as well. So the corrector work goes to
    the top of the ladder, in several steps a level, and the bottom takes few, plain steps."""
    cut = min(max(cut, sigma_min), sigma_max)
    high = sigma_ladder(sigma_max, cut, levels)
    low = sigma_ladder(cut, sigma_min, tail + 1)[1:] if tail > 0 and cut > sigma_min else []
    top = high[-1] if low else -1.0  # the levels at or above it are the high ones
    return ladder_schedule(high + low, lambda s: correctors if s >= top else 0, snr)


def ladder_schedule(sigmas: list[float], correctors: Callable[[float], int],
                    snr: float) -> list[tuple[float, float, float]]:
    """The ancestral sampler's steps down ``sigmas`` (then to 0): a first step that adds noise of
    level sigmas[0], and at each level ``correctors(s)`` corrector steps before the ancestral step."""
    sigmas = list(sigmas) + [0.0]
    out = [(0.0, sigmas[0], sigmas[0])]
    for s, nxt in zip(sigmas[:-1], sigmas[1:]):
        out += [(*corrector_step(s, snr), s)] * max(0, int(correctors(s)))
        out.append((*ancestral_step(s, nxt), s))
    return out
