"""The convolutional energy network E(x): image -> scalar, low for digit-like images.

Shaped after the UvA deep-learning tutorial 8 / Du & Mordatch (2019) MNIST nets: strided
convolutions and a small MLP head. The activation must be smooth (Swish by default) because the
Langevin sampler follows the *input* gradient of E: ReLU's piecewise-constant derivative makes
those gradients sparse and the chains stall. ``width`` scales every layer.

Noise-conditional energies (``noise_conditional=True``) are told the noise level sigma: a log-sigma
input channel and a FiLM scale/shift of every hidden layer from a sinusoidal sigma embedding, as
score networks are conditioned (Song & Ermon 2019; Ho et al. 2020). With ``gaussian_prior=True``
the exact energy of a Gaussian fit of the data at that noise level is added, so the net learns a
residual (see :mod:`.gaussian_prior`; with ``prior_components`` > 1 a Gaussian mixture,
:mod:`mixture_prior`). The blind alternative, E(x)/sigma (NCSNv2), must guess
sigma from the image and denoises badly at large sigma, where a digit's global shape is decided.

Scale convention: the module returns sigma * E(x, sigma), whose input gradient is trained by
denoising score matching to predict the noise; with ``sigma=None`` it is evaluated at
``sigma_default`` (the sampler's smallest level), the energy the canvas and charts show.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import RunConfig
from .gaussian_prior import GaussianPrior
from .mixture_prior import MixturePrior

ACTIVATIONS = {  # the config's choices (config.ACTIVATIONS), as modules
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
}


def build_conv_energy(cfg: RunConfig) -> "ConvEnergy":
    """The conv energy a run's config describes. Noise levels only exist for score matching and
    recovery likelihood (``train.objective`` "dsm", "recovery"): contrastive divergence trains a plain E(x)."""
    m = cfg.model
    dsm = cfg.train.objective in ("dsm", "recovery")
    return ConvEnergy(width=m.width, activation=m.activation, spectral_norm=m.spectral_norm,
                      noise_conditional=m.noise_conditional and dsm, gaussian_prior=m.gaussian_prior and dsm,
                      prior_components=m.prior_components, prior_rank=m.prior_rank,
                      sigma_default=cfg.sampler.sigma_min)


class ConvEnergy(nn.Module):
    """E(x) for x of shape (N, 1, 28, 28) in [0, 1]; returns energies of shape (N,)."""

    def __init__(self, width: int = 16, activation: str = "swish", spectral_norm: bool = False,
                 noise_conditional: bool = False, gaussian_prior: bool = False, sigma_default: float = 0.02,
                 prior_components: int = 1, prior_rank: int = 32):
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
        self.noise_conditional = bool(noise_conditional)
        self.uses_sigma = bool(noise_conditional or gaussian_prior)  # forward(x, sigma) depends on sigma
        if noise_conditional or gaussian_prior:  # part of the checkpoint only where it matters
            self.register_buffer("sigma_default", torch.tensor(float(sigma_default)))
        else:
            self.sigma_default = torch.tensor(float(sigma_default))
        if self.noise_conditional:
            first = self.features[0]
            conv0 = sn(nn.Conv2d(2, c1, 5, stride=2, padding=4))  # image + log-sigma channel
            self.features[0] = conv0
            del first
            self.sigma_embedding = SigmaEmbedding(64, act)
            self.film = nn.ModuleList([nn.Linear(64, 2 * c) for c in (c1, c2, c3, c3)])
            for f in self.film:  # start as the unconditioned net
                nn.init.zeros_(f.weight)
                nn.init.zeros_(f.bias)
        self.prior = None
        if gaussian_prior:  # one Gaussian, or a mixture of them (mixture_prior)
            self.prior = MixturePrior(prior_components, prior_rank) if prior_components > 1 else GaussianPrior()

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """sigma * E(x, sigma) per image; sigma: None (``sigma_default``), a float or one per image."""
        if not self.uses_sigma:
            return self.head(self.features(x * 2.0 - 1.0)).squeeze(-1)
        sig = per_image_sigma(sigma, x, self.sigma_default)
        if self.noise_conditional:
            out = self.head(self.conditioned_features(x, sig)).squeeze(-1)
        else:
            out = self.head(self.features(x * 2.0 - 1.0)).squeeze(-1)
        if self.prior is not None:
            out = out + sig * self.prior(x, sig)
        return out

    def conditioned_features(self, x: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
        """The flattened conv features of a noise-conditional net told the per-image levels ``sig``
        (a log-sigma input channel, FiLM of every hidden layer); the head turns them into outputs."""
        emb = self.sigma_embedding(sig)
        h = torch.cat([x * 2.0 - 1.0, (sig.log() / 4.0).view(-1, 1, 1, 1).expand(-1, 1, *x.shape[2:])], 1)
        layers = list(self.features)
        for i, film in enumerate(self.film):
            conv, act = layers[2 * i], layers[2 * i + 1]
            scale, shift = film(emb).chunk(2, 1)
            h = act(conv(h) * (1 + scale[:, :, None, None]) + shift[:, :, None, None])
        return h.flatten(1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)


def per_image_sigma(sigma, x: torch.Tensor, default) -> torch.Tensor:
    """Noise levels of shape (N,) for the N images of ``x``: ``sigma`` may be None (``default``),
    a number, or one level per image in any shape."""
    sig = torch.as_tensor(default if sigma is None else sigma, dtype=x.dtype, device=x.device).reshape(-1)
    return sig.expand(x.shape[0]) if sig.numel() == 1 else sig


class SigmaEmbedding(nn.Module):
    """Sinusoidal features of log sigma, mixed by a small MLP: how the net is told the noise level."""

    def __init__(self, dim: int = 64, act=nn.SiLU):
        super().__init__()
        self.register_buffer("frequencies", torch.arange(1, dim // 2 + 1, dtype=torch.float32) / 4.0)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), act())

    def forward(self, sigma: torch.Tensor) -> torch.Tensor:
        t = sigma.reshape(-1, 1).log() * self.frequencies
        return self.mlp(torch.cat([t.sin(), t.cos()], 1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
