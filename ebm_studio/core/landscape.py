"""Reading the energy landscape: how digit-like is an image, compared with real digits?

The raw energy of an EBM has no absolute scale (it is only defined up to a constant), so the
canvas reports where an image's energy falls among the energies of real MNIST-test digits: a
percentile of 90 means the image has lower energy (is more digit-like, to this model) than 90 %
of real test digits.

A noise-conditional energy is a different function at every noise level, so the comparison is
only fair at one level: the image's energy at sigma is ranked against real digits *noised to the
same sigma* and evaluated at sigma (a mid-chain image of annealed sampling is a noisy image).
An image with (almost) no ink is not a digit, whatever its energy: it ranks 0.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from .data import load_mnist
from .families import energy_of

MIN_INK = 0.01  # share of pixels above INK_LEVEL below which an image counts as blank
INK_LEVEL = 0.3
_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def energy_at(model, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Energies (N,) of images ``x`` (N, 1, 28, 28); at noise level ``sigma`` for a noise-conditional
    energy (None: its default level, the finest), the family's own energy otherwise."""
    if sigma is not None and getattr(model, "uses_sigma", False):
        with torch.no_grad():
            return model(x, float(sigma))
    return energy_of(model, x)


def reference_energies(model, n: int = 1000, sigma: float | None = None) -> np.ndarray:
    """Sorted energies of ``n`` MNIST-test digits under ``model``, noised to ``sigma`` (fixed noise)
    and evaluated there; cached per model object and level."""
    per_model = _cache.setdefault(model, {})
    key = (n, None if sigma is None else round(float(sigma), 6))
    if key in per_model:
        return per_model[key]
    x = load_mnist("test").images[:n]
    if sigma is not None and getattr(model, "uses_sigma", False):
        g = torch.Generator().manual_seed(0)
        x = x + float(sigma) * torch.randn(x.shape, generator=g)
    energies = np.sort(np.concatenate([energy_at(model, x[i:i + 250], sigma).float().cpu().numpy()
                                       for i in range(0, n, 250)]))
    per_model[key] = energies
    return energies


def is_blank(images) -> np.ndarray:
    """(N,) bool: images with less than ``MIN_INK`` of their pixels inked."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28 * 28)
    return (x > INK_LEVEL).mean(1) < MIN_INK


def rank_energies(model, energies, images, sigma: float | None = None, n_reference: int = 1000) -> np.ndarray:
    """Percent of real test digits (at ``sigma``) whose energy is higher than each given energy;
    0 for blank images."""
    ref = reference_energies(model, n_reference, sigma)
    e = np.asarray(energies, dtype=np.float64).reshape(-1)
    pct = 100.0 * (1.0 - np.searchsorted(ref, e, side="right") / len(ref))
    return np.where(is_blank(images), 0.0, pct)


def energy_percentile(model, images, n_reference: int = 1000, sigma: float | None = None) -> np.ndarray:
    """Percent of real test digits whose energy is higher than each image's (100 = more digit-like
    than all), both at noise level ``sigma``; 0 for a blank image."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, 28, 28)
    e = energy_at(model, x, sigma).float().cpu().numpy()
    return rank_energies(model, e, images, sigma, n_reference)


#: the noise level completions are compared at (clipped to the model's ladder): the energies of
#: several completions ranked the same at 0.05, 0.1 and 0.2 (benchmarks/QUALITY.md, inpainting)
COMPARE_LEVEL = 0.1


def lowest_energy(model, cfg, candidates) -> np.ndarray:
    """``candidates`` (N, K, 28, 28), K completions of each of N images: the one of lowest energy,
    (N, 28, 28). Chains draw samples of p(free pixels | clamped ones); keeping the likeliest of a few
    is a step toward the posterior's mode, where a single draw may land on a rarer digit the clamped
    half allows. A noise-conditional energy is compared at ``COMPARE_LEVEL`` within its ladder."""
    c = np.asarray(candidates, dtype=np.float32)
    n, k = c.shape[:2]
    s = cfg.sampler
    level = min(max(COMPARE_LEVEL, s.sigma_min), s.sigma_max) if getattr(model, "uses_sigma", False) else None
    x = torch.from_numpy(c.reshape(n * k, 1, 28, 28))
    e = torch.cat([energy_at(model, chunk, level).float().cpu() for chunk in x.split(500)]).view(n, k)
    return c[np.arange(n), e.argmin(1).numpy()]
