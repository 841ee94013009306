"""A small variational autoencoder (Kingma & Welling 2014), the classic MNIST baseline.

Fully connected encoder 784 → hidden → (μ, log σ²) of a ``latent``-dimensional Gaussian posterior,
decoder latent → hidden → 784 Bernoulli means; trained on the negative evidence lower bound
(binary cross-entropy on grey levels + KL to the standard normal prior), in nats per image.
A sample is the decoder's mean image at z ~ N(0, T²·I): the conventional way to show VAE samples
(drawing Bernoulli pixels from it gives speckle, not handwriting).

``energy(x)`` is the negative ELBO at the posterior mean (no sampling noise, so it is a
deterministic function of x a chart can follow); ``loss`` samples z by the reparameterisation trick.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .base import LatentGenerator, mlp


class VAE(LatentGenerator):
    def __init__(self, hidden: int = 400, latent: int = 20):
        super().__init__()
        self.latent_dim = latent
        self.encoder = mlp(784, hidden, 2 * latent)
        self.decoder = mlp(latent, hidden, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.reshape(x.shape[0], 784)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z)).reshape(-1, 1, 28, 28)

    generate = decode  # a sample is the decoder's mean image

    def neg_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None,
                 sample: bool = True) -> torch.Tensor:
        """Per-image negative ELBO in nats: -E_q[log p(x|z)] + KL(q(z|x) || N(0, I))."""
        mu, logvar = self.encode(x)
        z = mu
        if sample:
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator, device=mu.device)
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z), x.reshape(x.shape[0], 784).clamp(0, 1),
                                                 reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return rec + kl

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.neg_elbo(x, generator).mean()

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.neg_elbo(x, sample=False)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder mean at the posterior mean: the VAE's answer to 'what digit is this?'."""
        return self.decode(self.encode(x)[0])

    @torch.no_grad()
    def importance_nll(self, x: torch.Tensor, k: int = 100, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image -log p(x) estimated with ``k`` importance samples from q (Burda et al.'s bound,
        tighter than the ELBO and exact as k → ∞), in nats."""
        mu, logvar = self.encode(x)
        std = (0.5 * logvar).exp()
        flat = x.reshape(x.shape[0], 784).clamp(0, 1)
        logw = []
        for _ in range(k):
            eps = torch.randn(mu.shape, generator=generator, device=mu.device)
            z = mu + std * eps
            log_px = -F.binary_cross_entropy_with_logits(self.decode_logits(z), flat, reduction="none").sum(1)
            log_pz = -0.5 * (z.pow(2).sum(1) + self.latent_dim * math.log(2 * math.pi))
            log_qz = -0.5 * (eps.pow(2).sum(1) + logvar.sum(1) + self.latent_dim * math.log(2 * math.pi))
            logw.append(log_px + log_pz - log_qz)
        return -(torch.logsumexp(torch.stack(logw), 0) - math.log(k))
