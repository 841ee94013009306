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

import torch


def sigma_ladder(sigma_max: float, sigma_min: float, levels: int) -> list[float]:
    """``levels`` noise levels from ``sigma_max`` down to ``sigma_min``, evenly spaced in log sigma
    (one level: ``sigma_max``)."""
    levels = max(1, int(levels))
    return [sigma_max * (sigma_min / sigma_max) ** (i / max(1, levels - 1)) for i in range(levels)]


def _sqrt(v):
    return v.sqrt() if isinstance(v, torch.Tensor) else math.sqrt(v)


def ancestral_step(s, nxt):
    """(step_size, noise) of the exact Gaussian posterior step of the variance-exploding process
    from level ``s`` to the lower level ``nxt``:  x <- x - step_size * grad g + noise * z,  where
    g = s * E(x, s) is the model's output, i.e.  x + (s^2 - s'^2) * score + s' sqrt(1 - s'^2/s^2) z
    with score = -grad g / s. ``nxt`` = 0 is Tweedie's denoising. Numbers or tensors of levels."""
    d = s * s - nxt * nxt
    return d / s, nxt * _sqrt(d) / s


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
    sigmas = sigma_ladder(sigma_max, sigma_min, steps) + [0.0]
    out = [(0.0, sigma_max, sigma_max)]
    for s, nxt in zip(sigmas[:-1], sigmas[1:]):
        out += [(*corrector_step(s, snr), s)] * max(0, int(corrector))
        out.append((*ancestral_step(s, nxt), s))
    return out
