"""Named training recipes, as config overrides (the GUI's preset menu and ``train --preset``).

- ``dsm`` (the default): denoising score matching of a noise-conditional energy, sampled by
  annealed Langevin dynamics from uniform noise — recognisable digits in minutes on a CPU
  (figures in benchmarks/QUALITY.md).
- ``cd-uva``: maximum likelihood by contrastive divergence with a replay buffer, the recipe of
  the UvA deep-learning tutorial 8 / Du & Mordatch (2019), with its constant-step Langevin sampler.
- ``cd-seed``: the seed project's recipe: CD initialised at the data batch (``use_cd=True``).
"""

from __future__ import annotations

from .config import RunConfig
from .errors import ConfigError

PRESETS: dict[str, dict] = {
    "dsm": {},
    "cd-uva": {
        "train.objective": "cd", "sampler.schedule": "constant", "model.width": 16, "sampler.steps": 60,
        "sampler.step_size": 10.0, "sampler.noise": 0.005, "sampler.grad_clip": 0.03, "train.alpha": 0.1,
        "train.lr": 1e-4, "train.beta1": 0.0, "train.negatives": "buffer", "train.buffer_size": 8192,
        "train.reinit_prob": 0.05, "train.data_noise": 0.005,
    },
    "cd-seed": {
        "train.objective": "cd", "sampler.schedule": "constant", "model.width": 16, "sampler.steps": 20,
        "sampler.step_size": 10.0, "sampler.noise": 0.005, "sampler.grad_clip": 0.03, "train.alpha": 0.1,
        "train.lr": 1e-4, "train.beta1": 0.0, "train.negatives": "data",
    },
}


def preset_config(name: str, base: RunConfig | None = None) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return (base or RunConfig()).with_overrides(**PRESETS[name])
