"""The exact energy of a Gaussian fit of the data, blurred by noise of level sigma.

If the data were Gaussian, N(mu, C), then data + sigma * z would be N(mu, C + sigma^2 I) and its
energy  0.5 (x - mu)^T (C + sigma^2 I)^-1 (x - mu)  would give the exact score at every noise
level. MNIST is not Gaussian, but at large sigma it nearly is: this term alone denoises images at
sigma = 1 better than a small conv net trained for five minutes (mean squared error 0.035
against 0.085; experiments/ncsn_probe.py). A noise-conditional energy that adds a learned
residual to it only has to learn what the Gaussian gets wrong, which is mostly fine structure.

The fit is one eigendecomposition of the 784 x 784 pixel covariance of the training images,
kept as buffers (so it travels in the checkpoint); evaluating it costs one 784 x 784 product per
image, small beside the conv net.
"""

from __future__ import annotations

import torch
from torch import nn


class GaussianPrior(nn.Module):
    def __init__(self, dim: int = 784):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.eye(dim))  # eigenvectors of the covariance, as columns
        self.register_buffer("variance", torch.zeros(dim))  # its eigenvalues

    @torch.no_grad()
    def fit(self, images: torch.Tensor, seed: int = 0) -> "GaussianPrior":
        """Mean and covariance of ``images`` (N, ...) with N >= 2, in float64 for the eigensolver.
        ``seed`` is there for the mixture's fit (:mod:`mixture_prior`); this one draws nothing."""
        x = images.reshape(images.shape[0], -1).double()
        if x.shape[0] < 2:
            raise ValueError("a Gaussian fit needs at least two images")
        mean = x.mean(0)
        variance, basis = torch.linalg.eigh(torch.cov((x - mean).T))
        self.mean.copy_(mean)
        self.basis.copy_(basis)
        self.variance.copy_(variance.clamp_min(0.0))
        return self

    @torch.no_grad()
    def from_uniform(self, u: torch.Tensor) -> torch.Tensor:
        """Map uniform noise ``u`` (N, 1, 28, 28) in [0, 1] to a draw from N(mu, C), pixel by pixel
        through the inverse normal CDF and then through the fit's covariance: where a reverse
        diffusion should start (at level sigma it adds sigma * z to this, giving N(mu, C + sigma^2 I),
        the Gaussian fit of the noised data) while a seed still determines the start."""
        z = torch.special.ndtri(u.reshape(u.shape[0], -1).clamp(1e-6, 1 - 1e-6).to(self.mean.dtype))
        x = self.mean + (z * self.variance.sqrt()) @ self.basis.T
        return x.to(u.dtype).reshape(u.shape)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """0.5 (x - mu)^T (C + sigma^2 I)^-1 (x - mu) per image; ``sigma`` of shape (N,) or (N, 1, ...)."""
        coords = (x.reshape(x.shape[0], -1) - self.mean) @ self.basis
        s2 = sigma.reshape(-1, 1).to(coords.dtype) ** 2
        return 0.5 * (coords * coords / (self.variance + s2)).sum(1)
