"""What the studio needs to know about a model family, in one place (no family strings in widgets).

Asks the core's Family record (``ebm_studio.core.families.family``) when the core has one, and
otherwise derives the same answers from the core's family lists; either way the views ask
:func:`family_traits` and never compare family names themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

LABELS = {
    "conv": "Convolutional EBM (Langevin)",
    "rbm": "Bernoulli RBM (Gibbs)",
    "hopfield": "Hopfield: Gaussian hidden (Gibbs)",
    "sparse-rbm": "Sparse RBM, L1 (Gibbs)",
    "dbm": "Deep Boltzmann machine (Gibbs)",
    "vae": "VAE: baseline, not an EBM",
    "flow": "RealNVP flow: baseline, not an EBM",
}


@dataclass(frozen=True)
class FamilyTraits:
    name: str
    label: str
    has_chain: bool  # a sampler chain to watch step by step (the canvas)
    guidable: bool  # steerable toward a digit by a class guide
    clampable: bool  # inpainting: pixels held fixed while the rest is sampled
    receptive_fields: bool  # hidden units with weights to show as images
    langevin: bool  # sampled by Langevin dynamics (step size, noise, sigma ladder)
    gibbs: bool  # sampled by Gibbs sweeps
    baseline: bool  # not an energy model: samples in one pass

    @property
    def step_word(self) -> str:
        return "Gibbs sweep" if self.gibbs else "Langevin step"

    @property
    def recipe(self) -> str:
        """The name of the recipe (preset) a new model of this family starts from."""
        from ..core.presets import family_preset

        return family_preset(self.name)


@lru_cache(maxsize=None)
def family_traits(name: str | None) -> FamilyTraits:
    from ..core import families

    name = name or "conv"
    record = getattr(families, "family", None)
    if record is not None:
        try:
            f = record(name)
        except Exception:  # an unknown name: answer as for the lists below
            f = None
        if f is not None:
            gibbs = name in getattr(families, "BOLTZMANN_FAMILIES", ())
            baseline = not getattr(f, "has_chain", True)
            return FamilyTraits(name, getattr(f, "label", LABELS.get(name, name)), bool(f.has_chain),
                                bool(f.guidable), bool(f.clampable), bool(f.receptive_fields),
                                langevin=not gibbs and not baseline, gibbs=gibbs, baseline=baseline)
    from ..core.baselines import BASELINE_FAMILIES
    from ..core.boltzmann import BOLTZMANN_FAMILIES

    gibbs, baseline = name in BOLTZMANN_FAMILIES, name in BASELINE_FAMILIES
    langevin = not gibbs and not baseline
    return FamilyTraits(name, LABELS.get(name, name), has_chain=not baseline, guidable=langevin,
                        clampable=not baseline, receptive_fields=gibbs, langevin=langevin, gibbs=gibbs,
                        baseline=baseline)


def all_family_names() -> tuple[str, ...]:
    from ..core import families

    every = getattr(families, "all_families", None)
    if every is not None:
        return tuple(f.name for f in every())
    return tuple(families.ALL_FAMILIES)
