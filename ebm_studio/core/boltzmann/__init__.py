"""Boltzmann machines (seed 002): Bernoulli RBM, Gaussian-hidden "Hopfield" RBM, L1-sparse RBM
and a deep Boltzmann machine, trained by (persistent) contrastive divergence with block Gibbs
sampling and scored by annealed importance sampling. Plain PyTorch, no Qt."""

from ..family import Family
from .gibbs import gibbs_sample_chain
from .trainer import BoltzmannTrainer, build_boltzmann


def chart_labels(cfg) -> tuple[str, str]:
    """The record's two energies are free energies (see ``trainer``)."""
    return ("F(data)", "F(fantasy)")


def _family(name: str, label: str) -> Family:
    return Family(name=name, label=label, build=build_boltzmann, trainer=BoltzmannTrainer,
                  sampler=gibbs_sample_chain, preset=name, model_fields=("hidden",), chart_labels=chart_labels,
                  step_label="Gibbs sweep", gibbs=True, receptive_fields=True, ais=True)


FAMILIES = (
    _family("rbm", "Bernoulli RBM (Gibbs)"),
    _family("hopfield", "Hopfield: Gaussian hidden (Gibbs)"),
    _family("sparse-rbm", "Sparse RBM, L1 (Gibbs)"),
    _family("dbm", "Deep Boltzmann machine (Gibbs)"),
)
