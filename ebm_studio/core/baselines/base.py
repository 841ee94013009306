"""What the two baselines share: a fully connected net, and sampling from a Gaussian latent.

Each model says how big its latent code is (``latent_dim``) and how a code becomes images
(``generate``); drawing z ~ N(0, T^2 I) and calling the model's ``energy`` (-log p(x) or its
bound) for ``forward`` are the same for both.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from ..chain import ChainStep


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Two hidden ReLU layers of width ``hidden``."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


class LatentGenerator(nn.Module):
    latent_dim: int

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [0, 1] for latent codes ``z`` (N, latent_dim)."""
        raise NotImplementedError

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0,
               device=None) -> torch.Tensor:
        device = device or next(self.parameters()).device
        z = temperature * torch.randn((n, self.latent_dim), generator=generator, device=device)
        return self.generate(z)


def prior_draw_chain(model: LatentGenerator, cfg, x0: torch.Tensor, steps=None, mask=None, generator=None,
                     settings=None, compile=None) -> Iterator[ChainStep]:
    """The baselines' "chain": a VAE or flow draws an independent sample from its latent prior
    (temperature ``sampler.temperature``) in one pass, so there are two states, the starting
    images and the sample (which ignores them, and any steps, mask or live settings)."""
    with torch.no_grad():
        yield ChainStep(0, x0, model.energy(x0))
        x = model.sample(x0.shape[0], generator, cfg.sampler.temperature, device=x0.device)
        yield ChainStep(1, x, model.energy(x))
