"""Baseline generative models that are not energy-based: a VAE and a RealNVP flow.

They exist to be compared with the studio's energy models on equal terms (``ebm-studio
compare``): the same data, the same training front-end (a :class:`~..trainer.StepTrainer`
driven by a :class:`~..session.TrainingSession`), the same wall-clock budget and the same
quality meter. Both are trained by maximum likelihood (the VAE by its evidence lower bound),
and both draw a sample in one pass from a Gaussian latent prior; neither needs a Markov chain.
"""

from ..family import Family
from .base import prior_draw_chain
from .trainer import LikelihoodTrainer, build_baseline

CHART_LABELS = {"vae": ("−ELBO(data)", "−ELBO(samples)"), "flow": ("−log p(data)", "−log p(samples)")}


def _family(name: str, label: str, model_fields: tuple[str, ...]) -> Family:
    return Family(name=name, label=label, build=build_baseline, trainer=LikelihoodTrainer,
                  sampler=prior_draw_chain, preset=name, model_fields=model_fields,
                  chart_labels=lambda cfg: CHART_LABELS[name], step_label="draw", energy_model=False,
                  has_chain=False, clampable=False)


FAMILIES = (
    _family("vae", "VAE: baseline, not an EBM", ("hidden", "latent")),
    _family("flow", "RealNVP flow: baseline, not an EBM", ("hidden", "coupling_layers")),
)
