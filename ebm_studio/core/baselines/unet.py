"""The flow-matching baseline's velocity net: a small convolutional U-Net told the time t.

Two downsamplings (28 -> 14 -> 7 pixels) with ``width``, 3·``width`` and 9·``width`` channels,
one residual block at each level on the way down and up, and skip connections that hand the
encoder's features to the decoder at the same resolution: a flow's velocity moves every pixel, so
the output keeps the input's resolution, while the 7x7 level sees the whole digit. GroupNorm and
SiLU throughout; t enters every residual block through a sinusoidal embedding and a per-block FiLM
(a scale and shift of the normalised features), as in the DDPM and ADM U-Nets. The last
convolution starts at zero, so the untrained net predicts no motion at all.

Why these sizes: the rival should be the size of the energy it is compared with. The default conv
energy (``build_conv_energy(RunConfig())``) has 762 705 trainable parameters (its fitted
``prior.*`` buffers not counted), and this net at the recipe's width 16 has 725 137
(:func:`parameter_count`). Parameters placed at 28x28 cost 16 times the arithmetic of those at
7x7, and the energy's are nearly all at 4x4 or smaller, so at equal size this net is the costlier
one per evaluation whatever its shape; the channels therefore grow threefold a level (not the
usual twofold), keeping the full-resolution blocks thin and most weights at 7x7, and every count
is a multiple of 16, which the CPU's convolution kernels run much faster. The up-path convolves
before it upsamples (nearest), at a quarter of the cost of the other order.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def groups(channels: int) -> int:
    """GroupNorm groups: eight where the channels divide, fewer for the tiny widths of tests."""
    return math.gcd(channels, 8)


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (N, dim) of times ``t`` (N,) in [0, 1], the transformer's position code
    at a scale of 1000 so the lowest frequencies still tell the ends of [0, 1] apart."""
    half = max(1, dim // 2)
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = 1000.0 * t.float().reshape(-1, 1) * freqs
    out = torch.cat([angles.sin(), angles.cos()], dim=1)
    return out if out.shape[1] == dim else nn.functional.pad(out, (0, dim - out.shape[1]))


def upsample(h: torch.Tensor) -> torch.Tensor:
    return nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")


class ResBlock(nn.Module):
    """GroupNorm, SiLU, 3x3 conv; FiLM by the time embedding; GroupNorm, SiLU, 3x3 conv; plus the input."""

    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(t_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1.0 + scale) + shift
        return self.skip(x) + self.conv2(self.act(h))


class VelocityUNet(nn.Module):
    """v(x, t): (N, 1, 28, 28) images in [-1, 1] space and times (N,) -> (N, 1, 28, 28) velocities."""

    def __init__(self, width: int = 32):
        super().__init__()
        c1, c2, c3 = width, 3 * width, 9 * width
        t_dim = 8 * width
        self.features = 2 * width
        self.time_mlp = nn.Sequential(nn.Linear(self.features, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.stem = nn.Conv2d(1, c1, 3, padding=1)
        self.enc28 = ResBlock(c1, c1, t_dim)
        self.down14 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.enc14 = ResBlock(c2, c2, t_dim)
        self.down7 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.mid7 = ResBlock(c3, c3, t_dim)
        self.up14 = nn.Conv2d(c3, c2, 3, padding=1)
        self.dec14 = ResBlock(2 * c2, c2, t_dim)
        self.up28 = nn.Conv2d(c2, c1, 3, padding=1)
        self.dec28 = ResBlock(2 * c1, c1, t_dim)
        self.out_norm = nn.GroupNorm(groups(c1), c1)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t.reshape(-1)
        emb = self.time_mlp(time_features(t, self.features))
        h28 = self.enc28(self.stem(x), emb)
        h14 = self.enc14(self.down14(h28), emb)
        h = self.mid7(self.down7(h14), emb)
        h = self.dec14(torch.cat([upsample(self.up14(h)), h14], dim=1), emb)
        h = self.dec28(torch.cat([upsample(self.up28(h)), h28], dim=1), emb)
        return self.out(self.act(self.out_norm(h)))


def parameter_count(width: int) -> int:
    """Trainable parameters of a :class:`VelocityUNet` of ``width``, from the width alone (each
    convolution, FiLM and norm holds a fixed multiple of width² and width, plus the output bias):
    the size limit asks before anything is built."""
    return 2820 * width * width + 201 * width + 1
