"""Block Gibbs sampling as a step generator (fantasy particles, inpainting, denoising).

One step is a sweep v -> h -> v. The chain keeps binary visible states internally; what it
yields as ``ChainStep.x`` is the mean field p(v | h), which shows the digit without salt-and-
pepper noise (and with ``mean_field_last`` the last sweep returns exactly that mean field).
Optional annealing multiplies the energy by an inverse temperature rising from ``beta0`` to 1.
``mask`` clamps visible units to the initial image (inpainting).
"""

from __future__ import annotations

from typing import Iterator

import torch

from ..chain import ChainStep
from .dbm import DBM
from .rbm import sample_bernoulli


def gibbs_sample_chain(model, cfg, x0: torch.Tensor, steps: int | None = None, mask: torch.Tensor | None = None,
                       generator: torch.Generator | None = None, settings=None, compile=None) -> Iterator[ChainStep]:
    """The Boltzmann families' sampler: ``steps`` Gibbs sweeps (default: the run's), annealed from
    ``sampler.beta0``; a deep Boltzmann machine sweeps all its layers. Live ``settings`` and
    ``compile`` are the Langevin sampler's and do not apply."""
    s = cfg.sampler
    n = s.total_steps() if steps is None else steps
    chain = dbm_gibbs_chain if isinstance(model, DBM) else gibbs_chain
    return chain(model, x0, n, generator=generator, mask=mask, beta0=s.beta0)


def gibbs_chain(model, x0: torch.Tensor, steps: int, generator: torch.Generator | None = None,
                mask: torch.Tensor | None = None, beta0: float = 1.0, binarize: bool = True) -> Iterator[ChainStep]:
    """An RBM's chain: each sweep v -> h -> v."""
    def sweep(v, beta):
        mean = model.visible_mean(model.sample_hidden(v, generator, beta=beta), beta=beta)
        return sample_bernoulli(mean, generator), mean

    return _sweeps(model, x0, steps, lambda v0: sweep, generator, mask, beta0, binarize, clamp_start=True)


def dbm_gibbs_chain(model: DBM, x0, steps: int, generator=None, mask=None, beta0: float = 1.0):
    """A deep Boltzmann machine's chain: each sweep updates every layer, from a top layer drawn
    from the mean field of the start; it yields p(v | h1)."""
    def start(v0):
        h2 = sample_bernoulli(model.mean_field(v0, iters=3)[1], generator)

        def sweep(v, beta):
            nonlocal h2
            v, _, h2, mean = model.gibbs(v, None, h2, generator, beta)
            return v, mean
        return sweep

    return _sweeps(model, x0, steps, start, generator, mask, beta0, binarize=True, clamp_start=False)


def _sweeps(model, x0, steps, start, generator, mask, beta0, binarize, clamp_start) -> Iterator[ChainStep]:
    """The one Gibbs loop: ``steps`` sweeps (``start(v0)`` makes the sweep function), annealed
    from ``beta0`` to 1, ``mask``'s pixels held at the start image, p(v | h) yielded each sweep."""
    shape = x0.shape
    v0 = x0.reshape(shape[0], -1).float()
    v = sample_bernoulli(v0.clamp(0, 1), generator) if binarize else v0.clone()
    keep = None if mask is None else mask.to(torch.bool).expand(shape).reshape(shape[0], -1)
    if keep is not None and clamp_start:
        v = torch.where(keep, v0, v)
    with torch.no_grad():
        sweep = start(v0)
        yield ChainStep(0, v0.reshape(shape), model.free_energy(v0))
        for k in range(1, steps + 1):
            v, mean = sweep(v, beta0 + (1.0 - beta0) * k / steps)
            if keep is not None:
                v = torch.where(keep, v0, v)
                mean = torch.where(keep, v0, mean)
            yield ChainStep(k, mean.reshape(shape), model.free_energy(mean))
