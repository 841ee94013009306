"""Maximum-likelihood training of the baselines, through the same step-trainer front-end.

Each step minimises the model's per-image negative log-likelihood (the VAE: its negative ELBO)
on one batch, clips the gradient norm when ``train.max_grad_norm`` is set, and draws a handful of
samples so the live views and the charts can follow what the model makes. The record's
``e_data`` is the batch's loss and ``e_samples`` the same quantity for the model's own samples,
both in nats per image: the baselines' "energy" is −log p(x) (or its bound).
"""

from __future__ import annotations

import torch

from ..trainer import StepTrainer
from .base import LatentGenerator
from .realnvp import RealNVP
from .vae import VAE

LIVE_SAMPLES = 16


def baseline_parameters(model) -> int:
    """An upper bound on the parameters of the VAE or flow a [model] config describes, from its sizes."""
    h = int(model.hidden[0])
    if model.family == "vae":
        return 2 * (784 * h + h * h + 2 * h * model.latent) + 4 * h
    return model.coupling_layers * (3 * 784 * h + h * h + 4 * h + 3 * 784)


def build_baseline(cfg) -> LatentGenerator:
    """The VAE (``hidden[0]`` wide, ``latent`` dimensions) or RealNVP flow (``coupling_layers``)."""
    m = cfg.model
    if m.family == "vae":
        return VAE(hidden=m.hidden[0], latent=m.latent)
    return RealNVP(hidden=m.hidden[0], layers=m.coupling_layers)


class LikelihoodTrainer(StepTrainer):
    build_model = staticmethod(build_baseline)

    def __init__(self, cfg, data, model=None, device=None):
        super().__init__(cfg, data, model, device)
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        loss = self.model.loss(batch, self.generator)
        grad_norm = self.backward_and_step(loss)
        with torch.no_grad():
            self.model.eval()
            self.negatives = self.model.sample(LIVE_SAMPLES, self.generator, self.cfg.sampler.temperature)
            e_samples = self.model.energy(self.negatives).mean()
            self.model.train()
        return {"loss": float(loss.detach()), "grad_norm": float(grad_norm), "e_data": float(loss.detach()),
                "e_samples": float(e_samples)}

    def sample(self, n: int, **_) -> torch.Tensor:
        return self.model.sample(n, self.generator, self.cfg.sampler.temperature)
