"""The convolutional energy network E(x): image -> scalar, low for digit-like images.

Shaped after the UvA deep-learning tutorial 8 / Du & Mordatch (2019) MNIST nets: strided
convolutions and a small MLP head. The activation must be smooth (Swish by default) because the
Langevin sampler follows the *input* gradient of E: ReLU's piecewise-constant derivative makes
those gradients sparse and the chains stall. ``width`` scales every layer.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}


class ConvEnergy(nn.Module):
    """E(x) for x of shape (N, 1, 28, 28) in [0, 1]; returns energies of shape (N,)."""

    def __init__(self, width: int = 16, activation: str = "swish", spectral_norm: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        act = ACTIVATIONS[activation]
        c1, c2, c3 = width, 2 * width, 4 * width
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, c1, 5, stride=2, padding=4)),  # 28 -> 16
            act(),
            sn(nn.Conv2d(c1, c2, 3, stride=2, padding=1)),  # 16 -> 8
            act(),
            sn(nn.Conv2d(c2, c3, 3, stride=2, padding=1)),  # 8 -> 4
            act(),
            sn(nn.Conv2d(c3, c3, 3, stride=2, padding=1)),  # 4 -> 2
            act(),
            nn.Flatten(),
        )
        self.head = nn.Sequential(sn(nn.Linear(c3 * 4, c3)), act(), sn(nn.Linear(c3, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x * 2.0 - 1.0)).squeeze(-1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
