"""Named training recipes, as config overrides (the GUI's preset menu and ``train --preset``).

Each family package defines its own (``RECIPES`` in its ``__init__``); this module collects them:

- ``dsm`` (the default): denoising score matching of a noise-conditional energy, sampled by
  the ancestral sampler from the base energy's fit — recognisable digits in minutes on a CPU
  (figures in benchmarks/QUALITY.md).
- ``cd``: contrastive divergence that works in minutes: maximum recovery likelihood of the same
  noise-conditional energy (Gao et al. 2021; ``conv/recovery.py``), sampled by its own chain.
- ``cd-uva``: maximum likelihood by contrastive divergence with a replay buffer, the recipe of
  the UvA deep-learning tutorial 8 / Du & Mordatch (2019), with its constant-step Langevin sampler.
- ``cd-seed``: the seed project's recipe: CD initialised at the data batch (``use_cd=True``).
- ``rbm``, ``hopfield``, ``sparse-rbm``, ``dbm``: the Boltzmann machines of seed 002, trained by
  PCD-1 with Adam and a power-law decaying learning rate, sampled by 1000 Gibbs sweeps;
  ``rbm-centred``: the RBM recipe with the centred update (``boltzmann/centring.py``).
- ``vae``, ``flow``, ``flowmatch``: the non-energy baselines (a fully connected VAE; a RealNVP flow
  with fully connected couplings, both by maximum likelihood; flow matching with a conv U-Net,
  sampled by Heun's ODE solver); kept for ``ebm-studio compare``.
"""

from __future__ import annotations

from .config import RunConfig
from .errors import ConfigError
from .families import PACKAGES, family

#: Every family package's recipes (its ``RECIPES``), in the order the studio lists the families.
PRESETS: dict[str, dict] = {name: recipe for package in PACKAGES for name, recipe in package.RECIPES.items()}


def family_preset(name: str) -> str:
    """The recipe a model family starts from (its record's ``preset``: 'dsm' for the conv EBM)."""
    return family(name).preset


def preset_config(name: str, base: RunConfig | None = None) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return (base or RunConfig()).with_overrides(**PRESETS[name])
