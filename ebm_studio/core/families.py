"""The composition root: the model families the studio knows, collected from their packages.

Each family package defines its :class:`~.family.Family` records once; this module only gathers
them (``PACKAGES``: adding a family is its own package plus one entry there), registers their
[model] keys with the config, and offers the generic calls everything above it uses to build,
train and sample any family. The CLI, GUI, sessions and checkpoints talk to those and to the
records, never to a family by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from . import baselines, boltzmann, conv
from .chain import ChainStep, drain
from .config import RunConfig, register_family
from .errors import ConfigError
from .family import Family
from .family_names import SHIPPED_FAMILIES

#: The family packages, in the order the studio lists their families.
PACKAGES = (conv, boltzmann, baselines)

_RECORDS: dict[str, Family] = {}


def register(record: Family) -> Family:
    """Add a family (its package's record); the config then accepts ``model.family = record.name``."""
    if record.name in _RECORDS:
        raise ValueError(f"family {record.name!r} is registered twice")
    register_family(record.name, record.model_fields, record.parameter_estimate)
    _RECORDS[record.name] = record
    return record


for _package in PACKAGES:
    for _record in _package.FAMILIES:
        register(_record)
if tuple(_RECORDS) != SHIPPED_FAMILIES:  # the CLI's parser lists the names without importing the packages
    raise RuntimeError(f"family_names.SHIPPED_FAMILIES {SHIPPED_FAMILIES} does not match the registered "
                       f"families {tuple(_RECORDS)}: list the new family there too")


def family(name: str) -> Family:
    """The record of the family called ``name`` (:class:`ConfigError` naming the known ones if none)."""
    try:
        return _RECORDS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"model.family must be one of {', '.join(_RECORDS)}; got {name!r}") from None


def all_families() -> tuple[Family, ...]:
    return tuple(_RECORDS.values())


def family_names(energy_models_only: bool = False) -> tuple[str, ...]:
    return tuple(f.name for f in _RECORDS.values() if f.energy_model or not energy_models_only)


def of(cfg: RunConfig) -> Family:
    """The record of a run's family."""
    return family(cfg.model.family)


def build_model(cfg: RunConfig) -> nn.Module:
    return of(cfg).build(cfg)


def make_trainer(cfg: RunConfig, data: torch.Tensor, model: nn.Module | None = None, device=None):
    return of(cfg).trainer(cfg, data, model=model, device=device)


def sample_chain(model: nn.Module, cfg: RunConfig, x0: torch.Tensor, steps: int | None = None,
                 mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 settings: Callable | None = None, compile: bool | None = None) -> Iterator[ChainStep]:
    """A chain of the family's own sampler from ``x0`` (Langevin for conv; Gibbs for Boltzmann;
    one draw from the latent prior for the baselines). ``compile``: use the compiled Langevin step
    (None: only if ``sampler.compile`` is "on")."""
    return of(cfg).sampler(model, cfg, x0, steps=steps, mask=mask, generator=generator, settings=settings,
                           compile=compile)


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
    at ``init(m, device, generator)`` (m images). A long enough job of a family that compiles its
    step (the record's ``compile_job``: the conv EBM's, where ``sampler.compile`` allows) uses it;
    a last, smaller batch stays eager rather than compile a second shape. Yields a record after
    every chain step; the last one carries the images."""
    g = torch.Generator(device=device).manual_seed(seed)
    start_images = init or (lambda m, dev, gen: torch.rand((m, 1, 28, 28), generator=gen, device=dev))
    per_chain = max(1, cfg.sampler.total_steps())
    batches = -(-n // batch)
    total = per_chain * batches
    compile_job = of(cfg).compile_job
    fast = compile_job is not None and compile_job(cfg.sampler.compile, n, cfg.sampler.total_steps(), device)
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
    return drain(draw_from_noise_steps(model, cfg, n, seed=seed, device=device, batch=batch, init=init)).result


def energy_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Energy (free energy for Boltzmann machines) of images ``x`` (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        return model.energy(x) if hasattr(model, "energy") else model(x)
