"""The record a model family registers: what it is called, how to build, train and sample it,
and what it can do.

Each family package (``conv``, ``boltzmann``, ``baselines``) defines its records once, in its
``__init__``; the composition root (:mod:`families`) collects them. Everything above it (sessions,
checkpoints, the CLI, the GUI) asks a record what a family can do instead of comparing names, so a
new family is its own package plus one line in :mod:`families`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Family:
    name: str  # the config's ``model.family``
    label: str  # how the studio's family menu names it
    build: Callable  # build(cfg) -> nn.Module: a fresh model the config describes
    trainer: Callable  # trainer(cfg, data, model=None, device=None) -> StepTrainer
    sampler: Callable  # sampler(model, cfg, x0, steps, mask, generator, settings, compile) -> Iterator[ChainStep]
    preset: str  # the recipe (presets.PRESETS) a run of this family starts from
    model_fields: tuple[str, ...]  # the [model] keys it uses besides ``family`` (the others are not saved)
    chart_labels: Callable  # chart_labels(cfg) -> ("E(data)", "E(samples)"): what the record's energies mean
    step_label: str = "sampler step"  # what one step of its chain is called (the canvas's x axis)
    energy_model: bool = True  # an energy-based model (False: a baseline kept for comparison)
    has_chain: bool = True  # its samples come from a chain one can watch step by step
    langevin: bool = False  # Langevin sampler: step size, noise, schedules, precision and compile apply
    gibbs: bool = False  # Gibbs sweeps: sampler.steps, train.negatives and sampler.beta0 apply
    guidable: bool = False  # a class guide can steer its sampler (guidance.GuidedEnergy)
    clampable: bool = True  # its chains can hold pixels fixed (inpainting)
    receptive_fields: bool = False  # its hidden units' weights are images worth showing
    ais: bool = False  # test log-likelihood by annealed importance sampling (evaluate)
    methods: tuple[str, ...] = ()  # the ``sampler.method`` values its sampler takes from noise (none: it has no choice)
    compile_job: Callable | None = None  # compile_job(setting, images, steps, device) -> bool, where it compiles
    parameter_estimate: Callable | None = None  # (model config) -> parameter count from its sizes (size limit)
