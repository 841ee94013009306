"""The conv EBM's sampler: the run's schedule (ancestral, annealed or constant) as a Langevin chain.

How a chain from ``x0`` is driven depends on the sampler settings: the ancestral predictor-corrector
sampler starts from the base energy's fit (``sampler.start = "prior"``) and is clamped to the pixel
range only at its end; ``sampler.method`` chooses, for samples drawn from noise, the chain down all
the training levels (``pc``), the fast chain with its corrector steps at large noise only
(``fast-pc``), a few-step solver (:mod:`solvers`) or, for an energy trained by recovery likelihood,
its own level-by-level chain (``recovery``, :mod:`recovery`, masked chains too); otherwise a masked
or live chain walks the training levels (the canvas's descent is meant to be watched). Annealed Langevin walks the noise
ladder with its own step sizes; the constant schedule takes ``steps`` equal steps, with live
``settings`` from the canvas if given.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import nn

from ..chain import ChainStep
from ..config import RunConfig
from ..precision import autocast_dtype
from .inpaint_guidance import guided_for_mask
from .langevin import langevin_chain
from .recovery_chain import recovery_chain, recovery_ladder
from .schedules import ancestral_schedule, annealed_schedule, fast_pc_schedule, sigma_ladder
from .solvers import solver_chain


def gaussian_prior_of(model: nn.Module):
    """The Gaussian fit inside a conv energy (also through a class-guided wrapper), or None."""
    for m in (model, getattr(model, "energy", None)):
        prior = getattr(m, "prior", None)
        if isinstance(prior, nn.Module):
            return prior
    return None


def _clamp_last(chain, last: int):
    """Pass a chain's steps through, clamping the final image into the pixel range."""
    for st in chain:
        if st.step >= last:
            st.x.clamp_(0.0, 1.0)
        yield st


def langevin_sample_chain(model: nn.Module, cfg: RunConfig, x0: torch.Tensor, steps: int | None = None,
                          mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                          settings: Callable | None = None, compile: bool | None = None) -> Iterator[ChainStep]:
    """A chain of the run's Langevin sampler from ``x0``. ``compile``: use the compiled step (None:
    only if ``sampler.compile`` is "on")."""
    s = cfg.sampler
    if compile is None:
        compile = s.compile == "on"
    guided = guided_for_mask(model, mask, s.inpaint_guidance)  # masked chains: the clamped pixels steer
    if guided is not model:
        model, compile = guided, False  # its double backward is not compiled
    dtype = autocast_dtype(s.precision, x0.device)
    if steps is None and s.sample_steps and s.schedule == "constant":
        steps = s.sample_steps
    if s.schedule == "ancestral" and settings is None:
        prior = gaussian_prior_of(model)
        if s.start == "prior" and prior is not None and mask is None:  # clamped pixels keep the image
            x0 = prior.from_uniform(x0)
        if s.method == "recovery":  # masked chains too: the energy is right for its own sampler only
            per_level = s.recovery_steps if steps is None else s.recovery_steps_for(steps)
            sigmas = recovery_ladder(s)
            return recovery_chain(model, x0, sigmas, per_level, s.recovery_step, mask=mask, generator=generator,
                                  precision=dtype, compile=compile)
        few = s.solver_steps if steps is None else s.solver_steps_for(steps)
        if s.method not in ("pc", "fast-pc") and mask is None:
            sigmas = sigma_ladder(s.sigma_max, s.sigma_min, few, s.ladder)
            return solver_chain(model, x0, sigmas, s.method, generator=generator, precision=dtype, compile=compile)
        if s.method == "fast-pc" and mask is None:
            sched = fast_pc_schedule(s.sigma_max, s.sigma_min, few, s.fast_correctors, s.fast_snr, s.fast_cut,
                                     s.fast_tail)
        else:
            levels = s.levels if steps is None else s.chain_levels_for(steps)
            sched = ancestral_schedule(s.sigma_max, s.sigma_min, levels, corrector=s.steps_per_level - 1, snr=s.snr)
        return _clamp_last(langevin_chain(model, x0, grad_clip=None, clamp=None, mask=mask, generator=generator,
                                          schedule=sched, precision=dtype, compile=compile), len(sched))
    if s.schedule == "annealed" and settings is None:
        per_level = s.steps_per_level if steps is None else max(1, steps // s.levels)
        sched = annealed_schedule(s.sigma_max, s.sigma_min, s.levels, per_level, s.eps)
        return langevin_chain(model, x0, grad_clip=s.grad_clip or None, mask=mask, generator=generator,
                              schedule=sched, precision=dtype, compile=compile)
    return langevin_chain(model, x0, steps=s.steps if steps is None else steps, step_size=s.step_size,
                          noise=s.noise, grad_clip=s.grad_clip or None, mask=mask, generator=generator,
                          settings=settings, precision=dtype, compile=compile and settings is None)
