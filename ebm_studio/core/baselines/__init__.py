"""Baseline generative models that are not energy-based: a VAE, a RealNVP flow and flow matching.

They exist to be compared with the studio's energy models on equal terms (``ebm-studio
compare``): the same data, the same training front-end (a :class:`~..trainer.StepTrainer`
driven by a :class:`~..session.TrainingSession`), the same wall-clock budget and the same
quality meter. The VAE and the flow are trained by maximum likelihood (the VAE by its evidence
lower bound) and draw a sample in one pass from a Gaussian latent prior. Flow matching
(``flow_matching.py``) regresses the velocity of straight noise-to-data paths and draws a sample
by a few-step ODE from Gaussian noise (``sampler.method`` heun or euler, ``sampler.solver_steps``,
so its recipe keeps ``sampler.schedule = "ancestral"``: the config's name for "a solver from
noise", whose step and evaluation counts are the solver's); none of them needs a Markov chain.
"""

from ..family import Family
from .base import prior_draw_chain
from .flow_matching import build_flow_matching, flow_chain
from .flow_trainer import FlowMatchTrainer
from .ode import SOLVERS
from .trainer import LikelihoodTrainer, baseline_parameters, build_baseline
from .unet import parameter_count

_RECIPE = {"train.objective": "cd", "sampler.schedule": "constant", "train.lr": 1e-3, "train.beta1": 0.9,
           "train.batch_size": 128, "sampler.temperature": 1.0,
           "train.contrast": 0.0}  # no contrastive phase: its cut of the rate belongs to the energy's recipe
#: Recipes (presets.py): maximum likelihood with Adam.
RECIPES: dict[str, dict] = {
    "vae": {**_RECIPE, "model.family": "vae", "model.hidden": [400], "model.latent": 20},
    "flow": {**_RECIPE, "model.family": "flow", "model.hidden": [256], "model.coupling_layers": 8,
             "train.max_grad_norm": 100.0},
    # flow matching: Adam at the conv recipe's rate; an EMA of the weights is what samples; no contrastive
    # phase (its lr cut belongs to the energy's recipe); the ODE by Heun in the solver's steps
    "flowmatch": {"model.family": "flowmatch", "model.width": 16, "train.lr": 1e-3, "train.beta1": 0.9,
                  "train.batch_size": 128, "train.ema": 0.999, "train.contrast": 0.0,
                  "sampler.schedule": "ancestral", "sampler.method": "heun", "sampler.solver_steps": 20,
                  "sampler.temperature": 1.0},
}

CHART_LABELS = {"vae": ("−ELBO(data)", "−ELBO(samples)"), "flow": ("−log p(data)", "−log p(samples)")}


def _family(name: str, label: str, model_fields: tuple[str, ...]) -> Family:
    return Family(name=name, label=label, build=build_baseline, trainer=LikelihoodTrainer,
                  sampler=prior_draw_chain, preset=name, model_fields=model_fields,
                  chart_labels=lambda cfg: CHART_LABELS[name], step_label="draw", energy_model=False,
                  has_chain=False, clampable=False, parameter_estimate=baseline_parameters)


FLOW_MATCHING = Family(
    name="flowmatch", label="Flow matching: baseline, not an EBM", build=build_flow_matching,
    trainer=FlowMatchTrainer, sampler=flow_chain, preset="flowmatch", model_fields=("width",),
    chart_labels=lambda cfg: ("FM loss(data)", "FM loss(samples)"), step_label="ODE step", energy_model=False,
    has_chain=False, clampable=False, parameter_estimate=lambda model: parameter_count(model.width),
    methods=SOLVERS)

FAMILIES = (
    _family("vae", "VAE: baseline, not an EBM", ("hidden", "latent")),
    _family("flow", "RealNVP flow: baseline, not an EBM", ("hidden", "coupling_layers")),
    FLOW_MATCHING,
)
