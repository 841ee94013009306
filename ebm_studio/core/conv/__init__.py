"""The convolutional energy-based model, the studio's subject: a conv net E(x) trained by denoising
score matching (with an optional contrastive phase on its own sampler's chains) or by contrastive
divergence, sampled by Langevin dynamics (the ancestral predictor-corrector sampler by default),
steerable to a digit by a class guide. Plain PyTorch, no Qt.

Its modules, one idea each, are listed in ARCHITECTURE.md.
"""

from ..config import METHODS
from ..family import Family
from .cd_trainer import ConvEBMTrainer
from .compiled import compile_batch_job
from .dsm import DSMTrainer
from .energy import build_conv_energy
from .recovery import RecoveryTrainer
from .sampler import langevin_sample_chain

#: Recipes (presets.py): DSM, the default, needs no override; contrastive divergence by recovery
#: likelihood (``cd``, the Training panel's choice) and the two plain CD recipes it is compared with.
RECIPES: dict[str, dict] = {
    "dsm": {},
    "cd": {"train.objective": "recovery", "sampler.method": "recovery", "train.alpha": 0.01},
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

CHART_LABELS = {
    "cd": ("E(data)", "E(samples)"),
    "dsm": ("E(clean data)", "E(noised data)"),
    "recovery": ("E(noised data)", "E(recovery chains)"),  # at the batch's noise levels (recovery.py)
    "dsm+contrast": ("E(noised data)", "E(sampler chains)"),  # at the chains' noise levels (dsm.py)
    "dsm+phase": ("E(data)", "E(noised data, then chains)"),  # the contrastive phase ends a budget
}


def chart_labels(cfg) -> tuple[str, str]:
    """What the record's E(data) / E(samples) mean for the run's objective (see the trainers)."""
    if cfg.train.objective == "dsm" and cfg.train.contrast > 0:
        return CHART_LABELS["dsm+phase" if cfg.train.contrast_phase > 0 else "dsm+contrast"]
    return CHART_LABELS.get(cfg.train.objective, CHART_LABELS["cd"])


def make_trainer(cfg, data, model=None, device=None):
    """Score matching, recovery likelihood or contrastive divergence, as ``train.objective`` says."""
    kind = {"dsm": DSMTrainer, "recovery": RecoveryTrainer}.get(cfg.train.objective, ConvEBMTrainer)
    return kind(cfg, data, model=model, device=device)


FAMILIES = (
    Family(name="conv", label="Convolutional EBM (Langevin)", build=build_conv_energy, trainer=make_trainer,
           sampler=langevin_sample_chain, preset="dsm", chart_labels=chart_labels, step_label="Langevin step",
           model_fields=("width", "activation", "spectral_norm", "noise_conditional", "gaussian_prior",
                         "prior_components", "prior_rank"),
           langevin=True, guidable=True, compile_job=compile_batch_job, methods=METHODS),
)
