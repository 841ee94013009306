"""The model families the studio knows, and how to build each one's model, trainer and sampler.

Adding a family means registering it here; the CLI, GUI and checkpoints then treat it like any
other, because they only ever talk to the objects returned by these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from .baselines import BASELINE_FAMILIES
from .boltzmann import BOLTZMANN_FAMILIES
from .chain import ChainStep
from .config import RunConfig

#: The energy-based families: the studio's subject, each with a sampler that walks a chain.
SUPPORTED_FAMILIES = ("conv", *BOLTZMANN_FAMILIES)
#: Everything a run can train, including the non-energy baselines kept for comparison.
ALL_FAMILIES = (*SUPPORTED_FAMILIES, *BASELINE_FAMILIES)


def _clamp_last(chain, last: int):
    """Pass a chain's steps through, clamping the final image into the pixel range."""
    for st in chain:
        if st.step >= last:
            st.x.clamp_(0.0, 1.0)
        yield st


def build_model(cfg: RunConfig) -> nn.Module:
    m = cfg.model
    if m.family == "conv":
        from .energy import ConvEnergy

        dsm = cfg.train.objective == "dsm"  # noise levels only exist for score matching; CD trains E(x)
        return ConvEnergy(width=m.width, activation=m.activation, spectral_norm=m.spectral_norm,
                          noise_conditional=m.noise_conditional and dsm, gaussian_prior=m.gaussian_prior and dsm,
                          prior_components=m.prior_components, prior_rank=m.prior_rank,
                          sigma_default=cfg.sampler.sigma_min)
    if m.family in ("rbm", "sparse-rbm", "hopfield"):
        from .boltzmann.rbm import RBM

        return RBM(784, m.hidden[0], hidden="gaussian" if m.family == "hopfield" else "bernoulli")
    if m.family == "dbm":
        from .boltzmann.dbm import DBM

        return DBM(784, (m.hidden[0], m.hidden[1] if len(m.hidden) > 1 else m.hidden[0]))
    if m.family == "vae":
        from .baselines.vae import VAE

        return VAE(hidden=m.hidden[0], latent=m.latent)
    if m.family == "flow":
        from .baselines.realnvp import RealNVP

        return RealNVP(hidden=m.hidden[0], layers=m.coupling_layers)
    raise NotImplementedError(f"model family {m.family!r} is not available yet")


def make_trainer(cfg: RunConfig, data: torch.Tensor, model: nn.Module | None = None, device=None):
    if cfg.model.family == "conv":
        if cfg.train.objective == "dsm":
            from .dsm import DSMTrainer

            return DSMTrainer(cfg, data, model=model, device=device)
        from .trainer import ConvEBMTrainer

        return ConvEBMTrainer(cfg, data, model=model, device=device)
    if cfg.model.family in BOLTZMANN_FAMILIES:
        from .boltzmann.trainer import BoltzmannTrainer

        return BoltzmannTrainer(cfg, data, model=model, device=device)
    if cfg.model.family in BASELINE_FAMILIES:
        from .baselines.trainer import LikelihoodTrainer

        return LikelihoodTrainer(cfg, data, model=model, device=device)
    raise NotImplementedError(f"model family {cfg.model.family!r} is not available yet")


def sample_chain(model: nn.Module, cfg: RunConfig, x0: torch.Tensor, steps: int | None = None,
                 mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 settings: Callable | None = None, compile: bool | None = None) -> Iterator[ChainStep]:
    """A chain of the family's own sampler from ``x0`` (Langevin for conv; Gibbs for Boltzmann).
    ``compile``: use the compiled Langevin step (None: only if ``sampler.compile`` is "on")."""
    s = cfg.sampler
    if compile is None:
        compile = s.compile == "on"
    if cfg.model.family in BASELINE_FAMILIES:
        return _prior_draw(model, x0, s.temperature, generator)
    if cfg.model.family in BOLTZMANN_FAMILIES:
        from .boltzmann.dbm import DBM, dbm_gibbs_chain
        from .boltzmann.gibbs import gibbs_chain

        n = s.total_steps() if steps is None else steps
        if isinstance(model, DBM):
            return dbm_gibbs_chain(model, x0, n, generator=generator, mask=mask, beta0=s.beta0)
        return gibbs_chain(model, x0, n, generator=generator, mask=mask, beta0=s.beta0)
    if cfg.model.family == "conv":
        from .langevin import ancestral_schedule, annealed_schedule, langevin_chain
        from .precision import autocast_dtype

        dtype = autocast_dtype(s.precision, x0.device)

        if steps is None and s.sample_steps and s.schedule == "constant":
            steps = s.sample_steps
        if s.schedule == "ancestral" and settings is None:
            prior = gaussian_prior_of(model)
            if s.start == "prior" and prior is not None and mask is None:  # clamped pixels keep the image
                x0 = prior.from_uniform(x0)
            levels = s.levels if steps is None else max(1, -(-(steps - 1) // s.steps_per_level))
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
    raise NotImplementedError(f"model family {cfg.model.family!r} is not available yet")


def gaussian_prior_of(model: nn.Module):
    """The Gaussian fit inside a conv energy (also through a class-guided wrapper), or None."""
    for m in (model, getattr(model, "energy", None)):
        prior = getattr(m, "prior", None)
        if isinstance(prior, nn.Module):
            return prior
    return None


def _prior_draw(model: nn.Module, x0: torch.Tensor, temperature: float, generator) -> Iterator[ChainStep]:
    """The baselines' "chain": a VAE or flow draws an independent sample from its latent prior in
    one pass, so there are two states, the starting images and the sample (which ignores them)."""
    with torch.no_grad():
        yield ChainStep(0, x0, model.energy(x0))
        x = model.sample(x0.shape[0], generator, temperature, device=x0.device)
        yield ChainStep(1, x, model.energy(x))


@dataclass
class DrawProgress:
    """One sampler step of a batch job: ``done`` of ``total`` chain steps (all batches counted), and,
    on the last record only, ``result``: the (n, 1, 28, 28) final images on the CPU. Long jobs are
    step generators so a caller can show progress and cancel between two ``next()`` calls (close the
    generator), the same shape as the trainers."""

    done: int
    total: int
    result: torch.Tensor | None = None


def draw_from_noise_steps(model: nn.Module, cfg: RunConfig, n: int, seed: int = 0, device="cpu",
                          batch: int = 250, init: Callable | None = None) -> Iterator[DrawProgress]:
    """Final states of ``n`` chains of the family's own sampler, in batches, as (n, 1, 28, 28) on
    the CPU: how every model is judged by the quality meter. The chains start at uniform noise, or
    at ``init(m, device, generator)`` (m images). A long enough job of a conv energy uses the
    compiled Langevin step where ``sampler.compile`` allows (see ``compiled.compile_batch_job``);
    a last, smaller batch stays eager rather than compile a second shape. Yields a record after
    every chain step; the last one carries the images."""
    from .compiled import compile_batch_job

    g = torch.Generator(device=device).manual_seed(seed)
    start_images = init or (lambda m, dev, gen: torch.rand((m, 1, 28, 28), generator=gen, device=dev))
    per_chain = max(1, cfg.sampler.total_steps())
    batches = -(-n // batch)
    total = per_chain * batches
    fast = cfg.model.family == "conv" and compile_batch_job(cfg.sampler.compile, n, cfg.sampler.total_steps(), device)
    out = []
    for b, start in enumerate(range(0, n, batch)):
        m = min(batch, n - start)
        last = None
        for last in sample_chain(model, cfg, start_images(m, device, g), generator=g,
                                 compile=fast and (m == batch or start == 0)):
            if last.step > 0:
                yield DrawProgress(b * per_chain + min(last.step, per_chain), total)
        out.append(last.x.detach().float().cpu())
    yield DrawProgress(total, total, torch.cat(out))


def draw_from_noise(model: nn.Module, cfg: RunConfig, n: int, seed: int = 0, device="cpu",
                    batch: int = 250, init: Callable | None = None) -> torch.Tensor:
    """``draw_from_noise_steps`` run to its end: the images alone."""
    record = None
    for record in draw_from_noise_steps(model, cfg, n, seed=seed, device=device, batch=batch, init=init):
        pass
    return record.result


def energy_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Energy (free energy for Boltzmann machines) of images ``x`` (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        return model.energy(x) if hasattr(model, "energy") else model(x)
