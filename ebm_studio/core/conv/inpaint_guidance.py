"""Reconstruction guidance for masked chains: the free pixels are pulled to agree with the clamped ones.

An inpainting chain holds the clamped pixels clean and lets the network's receptive field carry
what they say into the free ones. At large noise the free pixels are pure noise beside a clean
clamped part, a pairing the net never trained on, and one chain completes a half-digit as the
digit it began less often than copying the nearest training digit's other half. Reconstruction
guidance (Ho et al. 2022, "Video diffusion models"; the simplest form of Chung et al. 2023, DPS)
adds to the score the gradient of how well the net's denoised estimate of the whole image,
Tweedie's x0(x) = x - sigma dg/dx, reproduces the clamped pixels it was given:

    g'(x, sigma) = g(x, sigma) + w / (2 sigma) |M (x0(x) - x)|^2        (M: the clamped pixels)

i.e. the score plus -(w / 2 sigma^2) grad |M (x0 - x)|^2, the guidance of Ho et al. with weight
w. It costs a second backward pass through the net per step. The chain reports the model's own
energy: the term enters the gradient only (its value is subtracted back out).
"""

from __future__ import annotations

import torch
from torch import nn

from .gradient import takes_sigma


class ReconstructionGuided(nn.Module):
    """A noise-conditional energy whose input gradient carries the reconstruction-guidance term for
    the clamped pixels ``mask`` (broadcastable to the chain's images, True = clamped) with weight
    ``weight``; its value is the wrapped energy's. ``energy`` is the wrapped module."""

    uses_sigma = True

    def __init__(self, energy: nn.Module, mask: torch.Tensor, weight: float):
        super().__init__()
        self.energy, self.weight = energy, float(weight)
        self.register_buffer("mask", mask.to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        g = self.energy(x, sigma)
        if not x.requires_grad or not torch.is_grad_enabled():  # a plain evaluation: nothing to steer
            return g
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
        s = s.expand(len(x)) if s.numel() == 1 else s
        (dg,) = torch.autograd.grad(g.sum(), x, create_graph=True)
        miss = (self.mask.to(device=x.device, dtype=x.dtype) * (x - s.view(-1, 1, 1, 1) * dg - x.detach())) ** 2
        term = self.weight / (2 * s) * miss.flatten(1).sum(1)
        return g + (term - term.detach())


def guided_for_mask(model: nn.Module, mask: torch.Tensor | None, weight: float) -> nn.Module:
    """``model`` wrapped in :class:`ReconstructionGuided` for a masked chain of a noise-conditional
    energy with ``weight`` > 0; otherwise ``model`` itself."""
    if mask is None or weight <= 0 or not takes_sigma(model):
        return model
    return ReconstructionGuided(model, mask.to(torch.bool), weight)
