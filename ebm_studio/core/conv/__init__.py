"""The convolutional energy-based model, the studio's subject: a conv net E(x) trained by denoising
score matching (with an optional contrastive phase on its own sampler's chains) or by contrastive
divergence, sampled by Langevin dynamics (the ancestral predictor-corrector sampler by default),
steerable to a digit by a class guide. Plain PyTorch, no Qt.

Modules: ``energy`` (the net and how a config builds it), ``gaussian_prior`` / ``mixture_prior``
(the exact base energy it adds a residual to), ``schedules`` (the sigma ladder and the steps on it),
``gradient`` (E and dE/dx), ``langevin`` (the chain), ``compiled`` (its torch.compile'd step),
``sampler`` (the run's schedule as a chain), ``dsm`` and ``cd_trainer`` (the two objectives),
``chain_pool`` (the contrastive phase's chains), ``guidance`` (the class guide).
"""

from ..family import Family
from .cd_trainer import ConvEBMTrainer
from .compiled import compile_batch_job
from .dsm import DSMTrainer
from .energy import build_conv_energy
from .sampler import langevin_sample_chain

CHART_LABELS = {
    "cd": ("E(data)", "E(samples)"),
    "dsm": ("E(clean data)", "E(noised data)"),
    "dsm+contrast": ("E(noised data)", "E(sampler chains)"),  # at the chains' noise levels (dsm.py)
    "dsm+phase": ("E(data)", "E(noised data, then chains)"),  # the contrastive phase ends a budget
}


def chart_labels(cfg) -> tuple[str, str]:
    """What the record's E(data) / E(samples) mean for the run's objective (see the trainers)."""
    if cfg.train.objective == "dsm" and cfg.train.contrast > 0:
        return CHART_LABELS["dsm+phase" if cfg.train.contrast_phase > 0 else "dsm+contrast"]
    return CHART_LABELS.get(cfg.train.objective, CHART_LABELS["cd"])


def make_trainer(cfg, data, model=None, device=None):
    """Score matching or contrastive divergence, as ``train.objective`` says."""
    kind = DSMTrainer if cfg.train.objective == "dsm" else ConvEBMTrainer
    return kind(cfg, data, model=model, device=device)


FAMILIES = (
    Family(name="conv", label="Convolutional EBM (Langevin)", build=build_conv_energy, trainer=make_trainer,
           sampler=langevin_sample_chain, preset="dsm", chart_labels=chart_labels, step_label="Langevin step",
           model_fields=("width", "activation", "spectral_norm", "noise_conditional", "gaussian_prior",
                         "prior_components", "prior_rank"),
           langevin=True, guidable=True, compile_job=compile_batch_job),
)
