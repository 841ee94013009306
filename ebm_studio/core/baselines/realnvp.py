"""A small RealNVP flow (Dinh, Sohl-Dickstein & Bengio 2017), the exact-likelihood baseline.

Pixels are dequantised (x·255 + u)/256 with u ~ U(0, 1), squeezed into (α, 1 − α) and mapped
through a logit, as in the RealNVP paper (α = 0.05); a stack of affine coupling layers with
alternating checkerboard and half-image masks, each predicting a scale (tanh-bounded) and a shift
for the unmasked pixels from the masked ones with a fully connected net, maps the result to a
standard normal. The change of variables gives log p(x) exactly; ``loss`` and ``energy`` are the
negative log-likelihood of the *discrete* 8-bit image in nats (−log p(y) + 784·log 256), so
``nll / (784 · ln 2)`` is the usual bits per dimension.

Fully connected couplings, not the paper's multi-scale ResNets: a CPU trains them in minutes,
at the price of likelihood (≈ 2 bits/dim instead of ≈ 1) and sample quality. A sample is one
inverse pass from z ~ N(0, T²·I); T < 1 ("temperature", as in Glow) trades diversity for clean
strokes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import LatentGenerator, mlp

ALPHA = 0.05
_BIN = 784 * math.log(256.0)


def coupling_masks(n: int) -> list[torch.Tensor]:
    """Checkerboard, its complement, top half, bottom half, repeated: every pixel is transformed
    by half the layers and conditions the other half."""
    r, c = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    board = ((r + c) % 2).float().reshape(784)
    top = (r < 14).float().reshape(784)
    cycle = [board, 1 - board, top, 1 - top]
    return [cycle[i % 4] for i in range(n)]


class AffineCoupling(nn.Module):
    def __init__(self, mask: torch.Tensor, hidden: int):
        super().__init__()
        self.register_buffer("mask", mask.clone())
        self.net = mlp(784, hidden, 2 * 784)
        nn.init.zeros_(self.net[-1].weight)  # every coupling starts as the identity
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(784))

    def _st(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(kept).chunk(2, dim=1)
        free = 1.0 - self.mask
        return self.scale * torch.tanh(raw_s) * free, t * free

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._st(y * self.mask)
        return y * s.exp() + t, s.sum(1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        s, t = self._st(z * self.mask)
        return (z - t) * (-s).exp()


class RealNVP(LatentGenerator):
    latent_dim = 784

    def __init__(self, hidden: int = 512, layers: int = 8):
        super().__init__()
        self.couplings = nn.ModuleList(AffineCoupling(m, hidden) for m in coupling_masks(layers))

    # --- pixels <-> logit space ---------------------------------------------------------------
    @staticmethod
    def dequantise(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.reshape(x.shape[0], 784).clamp(0, 1)
        u = torch.rand(x.shape, generator=generator, device=x.device)
        return (x * 255.0 + u) / 256.0

    @staticmethod
    def bin_centres(x: torch.Tensor) -> torch.Tensor:
        """The deterministic counterpart of :meth:`dequantise` (the middle of each 8-bit bin)."""
        return (x.reshape(x.shape[0], 784).clamp(0, 1) * 255.0 + 0.5) / 256.0

    @staticmethod
    def _to_logit(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = ALPHA + (1 - 2 * ALPHA) * y
        logdet = (math.log(1 - 2 * ALPHA) - torch.log(s) - torch.log1p(-s)).sum(1)
        return torch.log(s) - torch.log1p(-s), logdet

    # --- density ------------------------------------------------------------------------------
    def nll_of(self, y: torch.Tensor) -> torch.Tensor:
        """Per-image −log P of the 8-bit image whose dequantised value is ``y`` (N, 784), in nats."""
        z, logdet = self._to_logit(y)
        for layer in self.couplings:
            z, ld = layer(z)
            logdet = logdet + ld
        log_pz = -0.5 * (z.pow(2).sum(1) + 784 * math.log(2 * math.pi))
        return -(log_pz + logdet) + _BIN

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.nll_of(self.dequantise(x, generator)).mean()

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.nll_of(self.bin_centres(x))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """One inverse pass: latent z -> logit space -> pixels."""
        n = z.shape[0]
        for layer in reversed(self.couplings):
            z = layer.inverse(z)
        y = (torch.sigmoid(z) - ALPHA) / (1 - 2 * ALPHA)
        return y.clamp(0, 1).reshape(n, 1, 28, 28)


def bits_per_dim(nll_nats: torch.Tensor) -> torch.Tensor:
    return nll_nats / (784 * math.log(2.0))
