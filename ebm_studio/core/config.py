"""Run configuration: everything needed to rebuild a model and reproduce a run, as TOML.

Three small dataclasses (model, sampler, training) plus the data choice. Every field is
validated on construction from untrusted input (a TOML file, the CLI, the GUI's fields): wrong
types, NaN/inf, negative sizes and absurd values raise :class:`ConfigError` naming the field.

Defaults are the default recipe. When a recipe's default changes, a file written before the
change (which lacks the new key) keeps the old meaning: see ``LEGACY_DEFAULTS``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import tomli_w

from .atomic import atomic_write_text
from .config_checks import check_bool as _bool
from .config_checks import check_choice as _choice
from .config_checks import check_float as _float
from .config_checks import check_int as _int
from .config_checks import is_int as _is_int
from .errors import ConfigError
from .limits import MAX_SEED, check_model_size

ACTIVATIONS = ("swish", "silu", "softplus", "elu", "gelu", "tanh")  # conv: see conv/energy.py
SCHEDULES = ("annealed", "ancestral", "constant")
# ancestral: how a sample is drawn from noise
METHODS = ("fast-pc", "pc", "recovery", "heun", "dpm++2m", "euler", "euler-a")
LADDERS = ("karras", "geometric")  # the few-step solvers' sigma ladder (conv/schedules.py)
OBJECTIVES = ("dsm", "recovery", "cd")  # recovery: contrastive divergence by recovery likelihood
NEGATIVE_SOURCES = ("buffer", "data", "noise")
OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")
DIVERGENCE_POLICIES = ("recover", "pause", "stop")
PRECISIONS = ("auto", "fp32", "bf16")  # see precision.py
COMPILE_CHOICES = ("auto", "on", "off")  # see compiled.py


#: The [model] keys each model family uses besides ``family``, by family name. The composition root
#: (``families.py``) registers every family's record here (:func:`register_family`), so the names are
#: listed once, in the families' own packages; a run's config.toml holds only its family's keys.
#: (Every caller that builds or loads a model imports the root, so the check below always has them.)
MODEL_FIELDS: dict[str, tuple[str, ...]] = {}
#: Each family's estimate of a model's parameter count from its [model] sizes (limits.check_model_size).
PARAMETER_ESTIMATES: dict[str, Callable[[Any], int]] = {}


def register_family(name: str, model_fields: tuple[str, ...], parameter_estimate: Callable | None = None) -> None:
    """Make ``name`` a valid ``model.family`` whose runs save the [model] keys ``model_fields``;
    ``parameter_estimate(model_config)`` bounds the size of its models (None: bounded by the keys' ranges)."""
    unknown = set(model_fields) - {f.name for f in fields(ModelConfig)}
    if unknown:
        raise ValueError(f"family {name!r} names unknown [model] keys {sorted(unknown)}")
    MODEL_FIELDS[name] = tuple(model_fields)
    if parameter_estimate is not None:
        PARAMETER_ESTIMATES[name] = parameter_estimate


@dataclass
class ModelConfig:
    family: str = "conv"
    width: int = 48  # conv: channels of the first layer (the choice against 32/64/96: QUALITY.md)
    activation: str = "swish"
    spectral_norm: bool = False
    noise_conditional: bool = True  # conv + DSM: the net is told sigma (log-sigma channel + FiLM); else E(x)/sigma
    gaussian_prior: bool = True  # conv + DSM: add the exact energy of a Gaussian (mixture) fit of the data at sigma
    prior_components: int = 100  # that fit: K > 1 a k-means mixture of K Gaussians (mixture_prior), 1 = one
    prior_rank: int = 32  # mixture: principal directions kept per component (the rest is one isotropic variance)
    hidden: list[int] = field(default_factory=lambda: [200])  # Boltzmann machines: hidden layer sizes; vae/flow: width
    latent: int = 20  # vae: dimension of the latent code
    coupling_layers: int = 8  # flow: affine coupling layers

    def validate(self) -> None:
        if not isinstance(self.family, str) or (MODEL_FIELDS and self.family not in MODEL_FIELDS):
            raise ConfigError(f"model.family must be one of {', '.join(MODEL_FIELDS)}; got {self.family!r}")
        _int("model.width", self.width, 1, 512)
        _choice("model.activation", self.activation, tuple(ACTIVATIONS))
        _bool("model.spectral_norm", self.spectral_norm)
        _bool("model.noise_conditional", self.noise_conditional)
        _bool("model.gaussian_prior", self.gaussian_prior)
        _int("model.prior_components", self.prior_components, 1, 2000)
        _int("model.prior_rank", self.prior_rank, 1, 256)
        _int("model.latent", self.latent, 1, 784)
        _int("model.coupling_layers", self.coupling_layers, 1, 64)
        if not isinstance(self.hidden, list) or not self.hidden:
            raise ConfigError("model.hidden must be a non-empty list of layer sizes")
        for i, h in enumerate(self.hidden):
            _int(f"model.hidden[{i}]", h, 1, 100_000)
        estimate = PARAMETER_ESTIMATES.get(self.family)
        if estimate is not None:  # limits.py: the sizes together must fit in memory
            check_model_size(self, estimate(self))


@dataclass
class SamplerConfig:
    """Langevin settings (convolutional EBM) or Gibbs sweeps (Boltzmann machines)."""

    schedule: str = "ancestral"  # noise-conditional "ancestral" or "annealed" (sigma_max -> sigma_min), or "constant"
    steps: int = 60  # constant schedule: Langevin steps; also negatives per CD training step
    step_size: float = 10.0
    noise: float = 0.005
    grad_clip: float = 0.0  # per-pixel clip of dE/dx (0 = off); the CD recipe uses 0.03
    sigma_max: float = 1.0  # annealed/ancestral: the noise levels the energy was trained for
    sigma_min: float = 0.02
    levels: int = 300  # noise levels of the ladder
    steps_per_level: int = 2  # annealed: Langevin steps a level; ancestral: 1 predictor + correctors
    eps: float = 3e-4  # annealed: step size at the smallest noise level
    sample_steps: int = 0  # steps of a chain from noise when sampling (0 = the schedule's own total)
    method: str = "fast-pc"  # ancestral: samples from noise by fast-pc, "pc" (the whole training ladder), a solver
    solver_steps: int = 20  # fast-pc: its levels above fast_cut; a solver: its steps (heun: 2 evaluations a step)
    ladder: str = "karras"  # ancestral + a solver: its sigma ladder
    fast_correctors: int = 4  # fast-pc: Langevin corrector steps at each level above fast_cut
    fast_snr: float = 0.3  # fast-pc: their signal-to-noise ratio
    fast_cut: float = 0.2  # fast-pc: the noise level below which no corrector runs
    fast_tail: int = 10  # fast-pc: its levels below fast_cut
    recovery_gap: float = 1.0  # recovery (training and sampling): the noise between two levels, in units of the lower
    recovery_steps: int = 2  # recovery: Langevin steps on p(x_s | the level above) at each level (conv/recovery.py)
    recovery_step: float = 1.0  # recovery: their step size, in units of that conditional's Gaussian variance
    snr: float = 0.2  # ancestral: signal-to-noise ratio of its Langevin corrector steps (steps_per_level - 1 a level)
    temperature: float = 1.0  # vae/flow: standard deviation of the latent prior samples are drawn from (1 = the model)
    start: str = "prior"  # ancestral + Gaussian prior: start at the fit N(mu, C) mapped from the noise; "noised": at it
    compile: str = "auto"  # conv: torch.compile energy + gradient: "auto" (batch jobs that repay it), "on", "off"
    precision: str = "auto"  # conv: arithmetic of the energy's evaluations: "auto" (bf16 where fast), "fp32", "bf16"
    inpaint_guidance: float = 4.0  # conv: reconstruction guidance of masked chains (0 = off; conv/inpaint_guidance.py)
    beta0: float = 1.0  # Boltzmann machines: Gibbs sampling anneals the inverse temperature from beta0 to 1 (1 = off)

    def validate(self) -> None:
        _choice("sampler.schedule", self.schedule, SCHEDULES)
        _int("sampler.steps", self.steps, 0, 1_000_000)
        _float("sampler.step_size", self.step_size, 0.0, 1e6)
        _float("sampler.noise", self.noise, 0.0, 10.0)
        _float("sampler.grad_clip", self.grad_clip, 0.0, 1e6)
        _float("sampler.sigma_max", self.sigma_max, 0.0, 100.0, open_low=True)
        _float("sampler.sigma_min", self.sigma_min, 0.0, 100.0, open_low=True)
        if self.sigma_min > self.sigma_max:
            raise ConfigError("sampler.sigma_min must not exceed sampler.sigma_max")
        _int("sampler.levels", self.levels, 1, 10_000)
        _int("sampler.steps_per_level", self.steps_per_level, 1, 100_000)
        _float("sampler.eps", self.eps, 0.0, 10.0, open_low=True)
        _int("sampler.sample_steps", self.sample_steps, 0, 10_000_000)
        _float("sampler.beta0", self.beta0, 0.0, 1.0)
        _float("sampler.snr", self.snr, 0.0, 10.0)
        _float("sampler.inpaint_guidance", self.inpaint_guidance, 0.0, 1000.0)
        _float("sampler.temperature", self.temperature, 0.0, 10.0, open_low=True)
        _choice("sampler.precision", self.precision, PRECISIONS)
        _choice("sampler.start", self.start, ("prior", "noised"))
        _choice("sampler.method", self.method, METHODS)
        _int("sampler.solver_steps", self.solver_steps, 1, 10_000)
        _choice("sampler.ladder", self.ladder, LADDERS)
        _int("sampler.fast_correctors", self.fast_correctors, 0, 1000)
        _float("sampler.fast_snr", self.fast_snr, 0.0, 10.0)
        _float("sampler.fast_cut", self.fast_cut, 0.0, 100.0, open_low=True)
        _int("sampler.fast_tail", self.fast_tail, 0, 10_000)
        _float("sampler.recovery_gap", self.recovery_gap, 0.0, 100.0, open_low=True)
        _int("sampler.recovery_steps", self.recovery_steps, 1, 10_000)
        _float("sampler.recovery_step", self.recovery_step, 0.0, 10.0, open_low=True)
        if isinstance(self.compile, bool):  # files of 2026-11-30 wrote true/false
            self.compile = "on" if self.compile else "off"
        _choice("sampler.compile", self.compile, COMPILE_CHOICES)

    def uses_solver(self) -> bool:
        """Whether samples from noise are drawn by a few-step sampler (``method``: the fast
        predictor-corrector chain or a solver), not by the chain down the training ladder."""
        return self.schedule == "ancestral" and self.method != "pc"

    def evaluations(self, steps: int | None = None) -> int:
        """Network evaluations of one sample from noise (``steps``: the sampler's, default its own):
        a solver's steps (Heun: two a step but the last), or one a chain step and one to start."""
        steps = self.total_steps() if steps is None else steps
        if self.uses_solver() and self.method == "recovery":
            return steps  # its last step (Tweedie) reuses the last evaluation
        if self.uses_solver() and self.method != "fast-pc":
            return 2 * steps - 1 if self.method == "heun" else steps
        return steps + 1

    def total_steps(self) -> int:
        """Steps of one sample from noise: the fast predictor-corrector chain's (its levels, with
        ``fast_correctors`` each above ``fast_cut``, +1 noise injection), a solver's, else :meth:`chain_steps`."""
        if self.uses_solver() and self.method == "fast-pc":
            return 1 + self.solver_steps * (self.fast_correctors + 1) + self._fast_tail()
        if self.method == "recovery":
            return self.chain_steps()
        return self.solver_steps if self.uses_solver() else self.chain_steps()

    def recovery_levels(self, top: float | None = None) -> int:
        """Levels of the recovery sampler's geometric ladder from ``top`` (default sigma_max) down to
        sigma_min: enough that neighbours are at most the training gap apart (sigma / sigma' <=
        sqrt(1 + recovery_gap^2)); conv/recovery_chain.recovery_ladder lays them out."""
        top = max(self.sigma_max if top is None else top, self.sigma_min)
        ratio = math.sqrt(1.0 + self.recovery_gap ** 2)
        return 1 + max(1, math.ceil(math.log(top / self.sigma_min) / math.log(ratio) - 1e-9))

    def recovery_steps_for(self, steps: int) -> int:
        """The ``recovery_steps`` a level that make a recovery chain about ``steps`` long."""
        return max(1, round((steps - 1) / (self.recovery_levels() - 1)))

    def _fast_tail(self) -> int:
        """The fast chain's levels below ``fast_cut`` (none where the cut is not inside the ladder)."""
        return self.fast_tail if self.sigma_min < min(self.fast_cut, self.sigma_max) else 0

    def solver_steps_for(self, steps: int) -> int:
        """The ``solver_steps`` that make a sample of ``steps`` total steps (:meth:`total_steps`)
        with a few-step sampler: a solver's steps, or the fast chain's levels above ``fast_cut``."""
        if self.method == "fast-pc":
            return max(1, -(-(steps - 1 - self._fast_tail()) // (self.fast_correctors + 1)))
        return max(1, steps)

    def chain_levels_for(self, steps: int) -> int:
        """The ``levels`` that make the ancestral chain down the training ladder ``steps`` long
        (each level 1 predictor + correctors, +1 noise injection)."""
        return max(1, -(-(steps - 1) // self.steps_per_level))

    def chain_steps(self) -> int:
        """Steps of one Langevin chain from noise (the canvas plays it even where a solver draws the
        samples): the annealed ladder (+1 denoising step), the ancestral sampler's levels x
        (1 + correctors) (+1 initial noise injection), or ``steps``."""
        if self.sample_steps:
            return self.sample_steps
        if self.schedule == "ancestral" and self.method == "recovery":  # the canvas plays the recovery chain
            return (self.recovery_levels() - 1) * self.recovery_steps + 1
        return self.levels * self.steps_per_level + 1 if self.schedule in ("annealed", "ancestral") else self.steps


@dataclass
class TrainConfig:
    objective: str = "dsm"  # "dsm": denoising score matching over the sampler's noise levels; "cd": contrastive div.;
    # "recovery": contrastive divergence of the noise-conditional energy by recovery likelihood (conv/recovery.py)
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3  # against 2e-3, which trips the divergence guard: QUALITY.md
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    alpha: float = 0.1  # energy magnitude regulariser: alpha * (E(data)^2 + E(samples)^2)
    negatives: str = "buffer"  # "buffer" (persistent replay, PCD), "data" (CD), "noise"
    buffer_size: int = 8192
    reinit_prob: float = 0.05
    data_noise: float = 0.005  # Gaussian noise added to data (Nijkamp et al.: >= Langevin noise)
    max_grad_norm: float = 0.0  # 0 = no clipping of the parameter gradient
    sigma_skew: float = 2.0  # DSM: log sigma = log sigma_max - range * u**skew (1 = log-uniform; >1: more large sigma)
    ema: float = 0.995  # DSM, flow matching, RBM recipes: decay of the saved moving average of weights (0 = off)
    l1: float = 0.0  # Boltzmann machines: L1 weight penalty (the sparse RBM)
    lr_decay: float = 0.0  # Boltzmann machines: lr / (1 + lr_decay * epoch) (paysage's PowerLawDecay)
    lr_anneal: float = 0.0  # last fraction of a budgeted run over which lr falls linearly to 0 (0 = constant lr)
    contrast: float = 0.01  # DSM: weight of the contrastive term on the sampler's own chains (chain_pool; 0 = off)
    contrast_sigma: float = 1.0  # DSM: the contrastive term uses the chains at levels <= this (1 = the default ladder)
    contrast_chains: int = 256  # DSM: persistent chains staggered over the ladder that supply the negatives
    contrast_levels_per_step: int = 2  # DSM: ladder levels every chain moves per training step (a pass: levels / this)
    contrast_tilt: float = 0.0  # DSM: weight each chain's term by sigma**tilt (mean 1 over the ladder; > 0 leans on the
    # large sigma where the digit is decided): a probe against the class drift of a stronger term (QUALITY.md)
    contrast_phase: float = 0.3  # DSM: the term only in this last fraction of a budgeted run, at lr / 10
    # (0 = throughout). Unbudgeted runs never reach the phase
    binarize: str = "threshold"  # Boltzmann machines: "threshold" (0.5) or "stochastic" (Bernoulli)
    pretrain_epochs: float = 1.0  # deep Boltzmann machine: greedy pre-training epochs per layer
    init: str = "glorot"  # Boltzmann machines: weights "glorot" (normal) or "pca" (leading principal components)
    centering: bool = False  # Bernoulli RBMs: the centred update (boltzmann/centring.py; old files: off, as trained)
    centering_rate: float = 0.01  # its offsets' moving-average rate towards each batch's mean v and mean E[h | v]
    tempering: int = 1  # Bernoulli RBMs + PCD: replicas of parallel tempering for the negatives (1 = off; tempering.py)
    tempering_beta_min: float = 0.8  # the hottest replica's inverse temperature (betas linear from 1)
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # conv: arithmetic of training: "auto" (bf16 autocast where fast), "fp32", "bf16"
    on_divergence: str = "recover"  # "recover" (restore, lower lr, go on), "pause" (restore, wait for the user), "stop"

    def validate(self) -> None:
        _choice("train.on_divergence", self.on_divergence, DIVERGENCE_POLICIES)
        _choice("train.precision", self.precision, PRECISIONS)
        _float("train.ema", self.ema, 0.0, 0.999999)
        _float("train.sigma_skew", self.sigma_skew, 0.1, 10.0)
        _float("train.l1", self.l1, 0.0, 10.0)
        _float("train.lr_decay", self.lr_decay, 0.0, 1e6)
        _float("train.lr_anneal", self.lr_anneal, 0.0, 1.0)
        _float("train.contrast", self.contrast, 0.0, 100.0)
        _float("train.contrast_sigma", self.contrast_sigma, 0.0, 100.0, open_low=True)
        _int("train.contrast_chains", self.contrast_chains, 1, 1_000_000)
        _int("train.contrast_levels_per_step", self.contrast_levels_per_step, 1, 1000)
        _float("train.contrast_tilt", self.contrast_tilt, -4.0, 4.0)
        _float("train.contrast_phase", self.contrast_phase, 0.0, 1.0)
        _choice("train.binarize", self.binarize, ("threshold", "stochastic"))
        _float("train.pretrain_epochs", self.pretrain_epochs, 0.0, 1000.0)
        _choice("train.init", self.init, ("glorot", "pca"))
        _bool("train.centering", self.centering)
        _float("train.centering_rate", self.centering_rate, 0.0, 1.0, open_low=True)
        _int("train.tempering", self.tempering, 1, 64)
        _float("train.tempering_beta_min", self.tempering_beta_min, 0.0, 1.0, open_low=True)
        _choice("train.objective", self.objective, OBJECTIVES)
        _int("train.batch_size", self.batch_size, 1, 65_536)
        _choice("train.optimizer", self.optimizer, OPTIMIZERS)
        _float("train.lr", self.lr, 0.0, 10.0, open_low=True)
        _float("train.beta1", self.beta1, 0.0, 0.999999)
        _float("train.beta2", self.beta2, 0.0, 0.999999)
        _float("train.weight_decay", self.weight_decay, 0.0, 10.0)
        _float("train.alpha", self.alpha, 0.0, 1e3)
        _choice("train.negatives", self.negatives, NEGATIVE_SOURCES)
        _int("train.buffer_size", self.buffer_size, 1, 1_000_000)
        _float("train.reinit_prob", self.reinit_prob, 0.0, 1.0)
        _float("train.data_noise", self.data_noise, 0.0, 10.0)
        _float("train.max_grad_norm", self.max_grad_norm, 0.0, 1e9)
        _int("train.seed", self.seed, 0, MAX_SEED)
        _choice("train.device", self.device, DEVICES)


@dataclass
class DataConfig:
    source: str = "mnist"
    digits: list[int] | None = None  # None = all ten
    limit: int | None = None  # at most this many training images

    def validate(self) -> None:
        if not isinstance(self.source, str):
            raise ConfigError("data.source must be a string")
        if self.digits is not None:
            if not isinstance(self.digits, list) or not all(_is_int(d) and 0 <= d <= 9 for d in self.digits):
                raise ConfigError(f"data.digits must be a list of integers 0-9, got {self.digits!r}")
            if not self.digits:
                raise ConfigError("data.digits must not be empty (omit it for all ten digits)")
        if self.limit is not None:
            _int("data.limit", self.limit, 1, 10_000_000)


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def validate(self) -> "RunConfig":
        self.model.validate()
        self.sampler.validate()
        self.train.validate()
        self.data.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: Any, name: str = "config") -> "RunConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"{name}: top level must be a table")
        sections = {"model": ModelConfig, "sampler": SamplerConfig, "train": TrainConfig, "data": DataConfig}
        unknown = set(raw) - set(sections) - {"meta"}
        raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
        fam = raw["model"].get("family", ModelConfig.family) if isinstance(raw.get("model"), dict) else None
        used = MODEL_FIELDS.get(fam) if isinstance(fam, str) else None
        for dotted, old in LEGACY_DEFAULTS.items():
            section, _, key = dotted.partition(".")
            if section == "model" and used is not None and key not in used:
                continue  # a key the family does not use: not saved, so not missing from an old file
            if isinstance(raw.get(section), dict) and raw[section] and key not in raw[section]:
                raw[section][key] = old
        if unknown:
            raise ConfigError(f"{name}: unknown section(s) {sorted(unknown)}")
        parts = {}
        for key, klass in sections.items():
            part = raw.get(key, {})
            if not isinstance(part, dict):
                raise ConfigError(f"{name}: [{key}] must be a table")
            parts[key] = _build(klass, part, f"{name}: [{key}]")
        return cls(**parts).validate()

    def copy(self) -> "RunConfig":
        return RunConfig.from_dict(self.to_dict())

    def with_overrides(self, **dotted: Any) -> "RunConfig":
        """``cfg.with_overrides(**{"train.lr": 1e-3})``: a validated copy with fields replaced."""
        raw = self.to_dict()
        for key, value in dotted.items():
            section, _, name = key.partition(".")
            raw.setdefault(section, {})[name] = value
        return RunConfig.from_dict(raw)


#: Keys added with a new default recipe, and what a file that lacks them meant when it was written
#: (before the key existed): runs and checkpoints from then load and resume as they were trained.
LEGACY_DEFAULTS: dict[str, Any] = {
    "model.width": 32,
    "model.noise_conditional": False,
    "model.gaussian_prior": False,
    "model.prior_components": 1,
    "train.sigma_skew": 1.0,
    "train.precision": "fp32",
    "sampler.precision": "fp32",
    "sampler.start": "noised",
    "sampler.compile": "off",
}


def _build(klass, part: dict, where: str):
    known = {f.name: f for f in fields(klass)}
    unknown = set(part) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    obj = klass()
    for key, value in part.items():
        default = getattr(obj, key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
        if isinstance(default, float) and _is_int(value):
            value = float(value)
        setattr(obj, key, value)
    return obj


def load_config(path: str | os.PathLike) -> RunConfig:
    from .toml_files import read_toml

    path = Path(path)
    raw = read_toml(path, ConfigError)
    try:
        return RunConfig.from_dict(raw, name=str(path))
    except ConfigError as exc:
        if str(path) in str(exc):
            raise
        raise ConfigError(f"{path}: {exc}") from None  # every message names the file
    except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise ConfigError(f"{path}: invalid value ({exc.__class__.__name__}: {str(exc)[:120]})") from None


def config_to_toml(cfg: RunConfig, meta: dict[str, Any] | None = None) -> str:
    """The TOML of a run's config; [model] holds only the keys its family uses (older files that
    hold them all still load)."""
    raw = cfg.to_dict()
    used = MODEL_FIELDS.get(cfg.model.family)
    if used is not None:
        raw["model"] = {k: v for k, v in raw["model"].items() if k == "family" or k in used}
    if meta:
        raw["meta"] = _drop_none(meta)
    return tomli_w.dumps(raw)


def save_config(cfg: RunConfig, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    atomic_write_text(path, config_to_toml(cfg, meta))


def _drop_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    return d
