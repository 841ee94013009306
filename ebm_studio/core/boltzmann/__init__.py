"""Boltzmann machines (seed 002): Bernoulli RBM, Gaussian-hidden "Hopfield" RBM, L1-sparse RBM
and a deep Boltzmann machine, trained by (persistent) contrastive divergence with block Gibbs
sampling and scored by annealed importance sampling. Plain PyTorch, no Qt."""

from ..family import Family
from .gibbs import gibbs_sample_chain
from .trainer import BoltzmannTrainer, boltzmann_parameters, build_boltzmann

_RECIPE = {
    "train.objective": "cd", "sampler.schedule": "constant", "sampler.steps": 1, "sampler.sample_steps": 1000,
    "sampler.grad_clip": 0.0, "train.negatives": "buffer", "train.lr": 5e-3, "train.beta1": 0.9,
    "train.lr_decay": 1.0, "train.batch_size": 100, "train.binarize": "threshold", "model.hidden": [200],
    "train.ema": 0.0,
}
#: Recipes (presets.py): PCD-1 with Adam and a power-law decaying rate, sampled by 1000 Gibbs sweeps;
#: "rbm-centred" adds the centred update. The Bernoulli RBM recipes save a moving average of the weights.
RECIPES: dict[str, dict] = {
    # saved and sampled: the weights' moving average (trainer.py; benchmarks/RBM.md)
    "rbm": {**_RECIPE, "model.family": "rbm", "train.ema": 0.999},
    # the same, centred (Melchior et al. 2016; centring.py)
    "rbm-centred": {**_RECIPE, "model.family": "rbm", "train.centering": True, "train.ema": 0.999},
    "hopfield": {**_RECIPE, "model.family": "hopfield", "train.lr": 1e-3},
    "sparse-rbm": {**_RECIPE, "model.family": "sparse-rbm", "train.l1": 2e-4, "train.ema": 0.999},
    "dbm": {**_RECIPE, "model.family": "dbm", "model.hidden": [200, 200], "train.pretrain_epochs": 1.0,
            "train.lr": 2e-3},
}


def chart_labels(cfg) -> tuple[str, str]:
    """The record's two energies are free energies (see ``trainer``)."""
    return ("F(data)", "F(fantasy)")


def _family(name: str, label: str) -> Family:
    return Family(name=name, label=label, build=build_boltzmann, trainer=BoltzmannTrainer,
                  sampler=gibbs_sample_chain, preset=name, model_fields=("hidden",), chart_labels=chart_labels,
                  step_label="Gibbs sweep", gibbs=True, receptive_fields=True, ais=True,
                  parameter_estimate=boltzmann_parameters)


FAMILIES = (
    _family("rbm", "Bernoulli RBM (Gibbs)"),
    _family("hopfield", "Hopfield: Gaussian hidden (Gibbs)"),
    _family("sparse-rbm", "Sparse RBM, L1 (Gibbs)"),
    _family("dbm", "Deep Boltzmann machine (Gibbs)"),
)
