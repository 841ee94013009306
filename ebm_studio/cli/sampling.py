"""What ``sample``, ``chain`` and ``evaluate`` share: the sampler options, opening a model to draw
from (with its class guide for ``--label``), the sampler config with the command line's
overrides, and the chains' starting images."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .options import DEVICE_CHOICES, finite_float, given, nonneg_int, positive_float, seed_int
from .progress import Progress


@dataclass(frozen=True)
class SamplerOptions:
    """The sampler flags of one command, read once from the command line."""

    steps: int | None = None
    step_size: float | None = None
    noise: float | None = None
    seed: int = 0
    device: str = "auto"
    label: int | None = None
    guidance: float = 1.0
    compile: str | None = None
    precision: str | None = None
    temperature: float | None = None
    init: str = "noise"
    sampler: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, init: str = "noise") -> "SamplerOptions":
        return cls(steps=args.steps, step_size=args.step_size, noise=args.noise, seed=args.seed, device=args.device,
                   label=args.label, guidance=args.guidance, compile=args.compile, precision=args.precision,
                   temperature=args.temperature, init=init, sampler=getattr(args, "sampler", None))


SOLVER_HELP = ("noise-conditional conv models: how a sample is drawn from noise. fast-pc = the predictor-corrector "
               "chain with its corrector steps at large noise only (111 steps); pc = the chain over all 300 "
               "training levels (601 steps, the slow reference); recovery = the level-by-level chain a model "
               "trained by contrastive divergence (--preset cd) is right for (25 steps); heun, dpm++2m, euler = "
               "deterministic ODE "
               "solvers, euler-a = stochastic (20 steps; Heun evaluates twice a step). --steps: the sampler's "
               "steps (fast-pc: rounded up to whole levels, at least 16). Default: the model's own (sampler.method)")


def add_solver_args(p: argparse.ArgumentParser, steps: bool = False) -> None:
    from ..core.config import METHODS

    p.add_argument("--sampler", choices=list(METHODS), help=SOLVER_HELP)
    if steps:
        p.add_argument("--steps", type=nonneg_int, help="with --sampler: its steps (default: the model's own)")


def add_sampler_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=nonneg_int, help="sampler steps (default: the model's own; for an annealed "
                                                    "sampler, the total over all noise levels; with a solver "
                                                    "(--sampler), the solver's steps)")
    add_solver_args(p)
    p.add_argument("--step-size", type=finite_float, help="Langevin step size")
    p.add_argument("--noise", type=finite_float, help="Langevin noise scale")
    p.add_argument("--seed", type=seed_int, default=0, help="random seed")
    p.add_argument("--device", choices=list(DEVICE_CHOICES), default="auto")
    p.add_argument("--label", type=int, choices=range(10), metavar="D",
                   help="ask for digit D: sample E(x) - w log p(D | x) with the run's class guide (see 'guide')")
    p.add_argument("--guidance", type=finite_float, default=1.0,
                   help="guide weight w (1 = Bayes; more = surer, less varied)")
    p.add_argument("--compile", nargs="?", const="on", choices=["auto", "on", "off"],
                   help="torch.compile the energy net (~30 s once, then ~1.6x faster sampling; conv models); "
                        "default: the run's setting, auto = only jobs of >= 200k image-steps")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="arithmetic of the energy net while sampling (default: the run's; auto = bf16 where fast)")
    p.add_argument("--temperature", type=positive_float,
                   help="vae/flow: standard deviation of the latent prior (default: the run's, 1 = the model itself)")


def open_for_sampling(spec: str, opts: SamplerOptions):
    """The model ``spec`` on the chosen device, checked against the options (``--init`` needs a
    chain, ``--temperature`` a baseline), wrapped in its class guide for ``--label``."""
    from ..core.device import configure_threads, resolve_device
    from ..core.errors import ConfigError
    from ..core.families import family
    from ..core.models_io import open_model

    configure_threads()
    device = resolve_device(opts.device)
    run = open_model(spec, device=device)
    name = run.config.model.family
    if not family(name).has_chain and opts.init != "noise":
        raise ConfigError(f"--init: a {name} draws each sample from its latent prior in one pass; there is no "
                          "chain to start from an image")
    if opts.temperature is not None and family(name).has_chain:
        raise ConfigError("--temperature applies to the vae and flow baselines (energy models: --noise, --steps)")
    if opts.label is not None:
        from ..core.conv.guidance import GuidedEnergy, load_guide

        if not family(name).guidable:
            raise ConfigError(f"--label steers the convolutional EBM's Langevin sampler; a {name} has no class guide")
        if not opts.guidance >= 0:
            raise ConfigError(f"--guidance must be >= 0, got {opts.guidance}")
        guide, _ = load_guide(run.path)
        run.model = GuidedEnergy(run.model, guide.to(device), opts.label, opts.guidance)
    return run, device


def sampler_config(run, opts: SamplerOptions):
    """The model's sampler with the command line's overrides.

    For an annealed sampler ``--steps`` is the total number of steps of the ladder; giving
    ``--step-size`` or ``--noise`` switches to constant-step Langevin with those values.
    """
    over = {}
    s = run.config.sampler
    laddered = s.schedule in ("annealed", "ancestral")
    annealed = laddered and opts.step_size is None and opts.noise is None
    if laddered and not annealed:
        over["sampler.schedule"] = "constant"
    if opts.sampler is not None and laddered and not annealed:
        from ..core.errors import ConfigError

        raise ConfigError("--sampler draws along the noise ladder; --step-size and --noise ask for constant-step "
                          "Langevin instead: give one or the other")
    if (annealed and s.schedule == "ancestral") or opts.sampler is not None:
        over.update(ladder_overrides(run.config, opts.sampler, opts.steps))
    elif opts.steps is not None:
        if annealed:
            over["sampler.steps_per_level"] = max(1, opts.steps // s.levels)
        else:
            over["sampler.steps"] = opts.steps
    over.update(given({"sampler.step_size": opts.step_size, "sampler.noise": opts.noise,
                       "sampler.temperature": opts.temperature, "sampler.precision": opts.precision,
                       "sampler.compile": opts.compile}))
    if opts.init != "noise" and s.schedule == "ancestral":
        over["sampler.start"] = "noised"  # the chain starts from the user's image itself
    return run.config.with_overrides(**over) if over else run.config


def ladder_overrides(cfg, sampler: str | None, steps: int | None) -> dict:
    """``--sampler`` and ``--steps`` of a model that walks the noise ladder: the method, and the
    solver's steps or the predictor-corrector chain's levels (each of 1 predictor + correctors, +1
    noise injection). :class:`ConfigError` for ``--sampler`` on any other model (Langevin with a
    constant step, Gibbs, a baseline)."""
    from dataclasses import replace

    from ..core.errors import ConfigError

    s = cfg.sampler
    if s.schedule != "ancestral":
        if sampler is None:
            return {}
        raise ConfigError(f"--sampler applies to noise-conditional conv models (sampler.schedule = ancestral); this "
                          f"{cfg.model.family} model samples with its {s.schedule} schedule")
    method = s.method if sampler is None else sampler
    over = {} if sampler is None else {"sampler.method": method}
    if steps and method == "pc":
        over["sampler.levels"] = s.chain_levels_for(steps)
    elif steps and method == "recovery":  # whole levels of the recovery ladder: its moves a level follow
        over["sampler.recovery_steps"] = s.recovery_steps_for(steps)
    elif steps:  # the sampler's total steps, as for the chains; the fast chain's levels follow from them
        over["sampler.solver_steps"] = replace(s, method=method).solver_steps_for(steps)
    return over


def initial_images(init: str, n: int, device, generator):
    """``n`` starting images: uniform noise, or the image file ``init`` repeated."""
    import torch

    from ..core.images import load_digit_image

    if init == "noise":
        return torch.rand((n, 1, 28, 28), generator=generator, device=device)
    img = torch.from_numpy(load_digit_image(init)).to(device)
    return img.expand(n, 1, 28, 28).clone()


def draw_samples(run, cfg, n: int, init: str, device, seed: int, batch: int = 500, quiet: bool = False,
                 desc: str = "sample"):
    """Final states of ``n`` chains of the model's own sampler, in batches; (n, 28, 28) numpy.
    Progress in chain steps (all batches) on stderr unless ``quiet``."""
    import numpy as np

    from ..core.families import draw_from_noise_steps
    from ..core.values import check_finite_samples

    record = None
    with Progress(desc, total=0, unit="step", quiet=quiet) as bar:
        for record in draw_from_noise_steps(run.model, cfg, n, seed=seed, device=device, batch=batch,
                                            init=lambda m, d, g: initial_images(init, m, d, g)):
            bar.update(record.done, total=record.total)
    return check_finite_samples(record.result.numpy()[:, 0].astype(np.float32), f"samples of {run.path}")
