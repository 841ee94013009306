"""Named training recipes, as config overrides (the GUI's preset menu and ``train --preset``).

- ``dsm`` (the default): denoising score matching of a noise-conditional energy, sampled by
  the ancestral sampler from the base energy's fit — recognisable digits in minutes on a CPU
  (figures in benchmarks/QUALITY.md).
- ``cd-uva``: maximum likelihood by contrastive divergence with a replay buffer, the recipe of
  the UvA deep-learning tutorial 8 / Du & Mordatch (2019), with its constant-step Langevin sampler.
- ``cd-seed``: the seed project's recipe: CD initialised at the data batch (``use_cd=True``).
- ``rbm``, ``hopfield``, ``sparse-rbm``, ``dbm``: the Boltzmann machines of seed 002, trained by
  PCD-1 with Adam and a power-law decaying learning rate, sampled by 1000 Gibbs sweeps.
- ``vae``, ``flow``: the non-energy baselines (a fully connected VAE; a RealNVP flow with fully
  connected couplings), trained by maximum likelihood; kept for ``ebm-studio compare``.
"""

from __future__ import annotations

from .config import RunConfig
from .errors import ConfigError
from .families import family

PRESETS: dict[str, dict] = {
    "dsm": {},
    "cd-uva": {
        "train.objective": "cd", "sampler.schedule": "constant", "model.width": 16, "sampler.steps": 60,
        "sampler.step_size": 10.0, "sampler.noise": 0.005, "sampler.grad_clip": 0.03, "train.alpha": 0.1,
        "train.lr": 1e-4, "train.beta1": 0.0, "train.negatives": "buffer", "train.buffer_size": 8192,
        "train.reinit_prob": 0.05, "train.data_noise": 0.005, "sampler.sample_steps": 256,
    },
    "cd-seed": {
        "train.objective": "cd", "sampler.schedule": "constant", "model.width": 16, "sampler.steps": 20,
        "sampler.step_size": 10.0, "sampler.noise": 0.005, "sampler.grad_clip": 0.03, "train.alpha": 0.1,
        "train.lr": 1e-4, "train.beta1": 0.0, "train.negatives": "data",
    },
}

_BOLTZMANN = {
    "train.objective": "cd", "sampler.schedule": "constant", "sampler.steps": 1, "sampler.sample_steps": 1000,
    "sampler.grad_clip": 0.0, "train.negatives": "buffer", "train.lr": 5e-3, "train.beta1": 0.9,
    "train.lr_decay": 1.0, "train.batch_size": 100, "train.binarize": "threshold", "model.hidden": [200],
}
PRESETS.update({
    "rbm": {**_BOLTZMANN, "model.family": "rbm"},
    "hopfield": {**_BOLTZMANN, "model.family": "hopfield", "train.lr": 1e-3},
    "sparse-rbm": {**_BOLTZMANN, "model.family": "sparse-rbm", "train.l1": 2e-4},
    "dbm": {**_BOLTZMANN, "model.family": "dbm", "model.hidden": [200, 200], "train.pretrain_epochs": 1.0,
            "train.lr": 2e-3},
})


_BASELINE = {"train.objective": "cd", "sampler.schedule": "constant", "train.lr": 1e-3, "train.beta1": 0.9,
             "train.batch_size": 128, "sampler.temperature": 1.0}
PRESETS.update({
    "vae": {**_BASELINE, "model.family": "vae", "model.hidden": [400], "model.latent": 20},
    "flow": {**_BASELINE, "model.family": "flow", "model.hidden": [256], "model.coupling_layers": 8,
             "train.max_grad_norm": 100.0},
})


def family_preset(name: str) -> str:
    """The recipe a model family starts from (its record's ``preset``: 'dsm' for the conv EBM)."""
    return family(name).preset


def preset_config(name: str, base: RunConfig | None = None) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return (base or RunConfig()).with_overrides(**PRESETS[name])
