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
from .dbm import DBM, dbm_gibbs_chain
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
    shape = x0.shape
    v0 = x0.reshape(shape[0], -1).float()
    v = sample_bernoulli(v0.clamp(0, 1), generator) if binarize else v0.clone()
    keep = None
    if mask is not None:
        keep = mask.to(torch.bool).expand(shape).reshape(shape[0], -1)
        v = torch.where(keep, v0, v)
    with torch.no_grad():
        yield ChainStep(0, v0.reshape(shape), model.free_energy(v0))
        for k in range(1, steps + 1):
            beta = beta0 + (1.0 - beta0) * k / steps if steps else 1.0
            h = model.sample_hidden(v, generator, beta=beta)
            mean = model.visible_mean(h, beta=beta)
            v = sample_bernoulli(mean, generator)
            if keep is not None:
                v = torch.where(keep, v0, v)
                mean = torch.where(keep, v0, mean)
            yield ChainStep(k, mean.reshape(shape), model.free_energy(mean))
