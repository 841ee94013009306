"""Baseline generative models that are not energy-based: a VAE and a RealNVP flow.

They exist to be compared with the studio's energy models on equal terms (``ebm-studio
compare``): the same data, the same training front-end (a :class:`~..trainer.StepTrainer`
driven by a :class:`~..session.TrainingSession`), the same wall-clock budget and the same
quality meter. Both are trained by maximum likelihood (the VAE by its evidence lower bound),
and both draw a sample in one pass from a Gaussian latent prior; neither needs a Markov chain.
"""

from ..family import Family
from .base import prior_draw_chain
from .trainer import LikelihoodTrainer, baseline_parameters, build_baseline

_RECIPE = {"train.objective": "cd", "sampler.schedule": "constant", "train.lr": 1e-3, "train.beta1": 0.9,
           "train.batch_size": 128, "sampler.temperature": 1.0}
#: Recipes (presets.py): maximum likelihood with Adam.
RECIPES: dict[str, dict] = {
    "vae": {**_RECIPE, "model.family": "vae", "model.hidden": [400], "model.latent": 20},
    "flow": {**_RECIPE, "model.family": "flow", "model.hidden": [256], "model.coupling_layers": 8,
             "train.max_grad_norm": 100.0},
}

CHART_LABELS = {"vae": ("−ELBO(data)", "−ELBO(samples)"), "flow": ("−log p(data)", "−log p(samples)")}


def _family(name: str, label: str, model_fields: tuple[str, ...]) -> Family:
    return Family(name=name, label=label, build=build_baseline, trainer=LikelihoodTrainer,
                  sampler=prior_draw_chain, preset=name, model_fields=model_fields,
                  chart_labels=lambda cfg: CHART_LABELS[name], step_label="draw", energy_model=False,
                  has_chain=False, clampable=False, parameter_estimate=baseline_parameters)


FAMILIES = (
    _family("vae", "VAE: baseline, not an EBM", ("hidden", "latent")),
    _family("flow", "RealNVP flow: baseline, not an EBM", ("hidden", "coupling_layers")),
)
