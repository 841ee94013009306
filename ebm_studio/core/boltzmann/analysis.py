"""What a Boltzmann machine does with an image: reconstruct it, denoise it.

A reconstruction is one deterministic up-down pass v -> E[h | v] -> p(v | E[h]) (for a DBM the
mean-field posterior of the first hidden layer plays E[h | v]); it shows what the hidden units
kept of the image. Denoising flips a fraction of the pixels of binary images and reconstructs
them: a model that learnt digits puts the flipped pixels back. Both return visible
probabilities in [0, 1], shape (N, 1, 28, 28), like every sampler in the studio.
"""

from __future__ import annotations

import torch

from .dbm import DBM


@torch.no_grad()
def reconstruct(model, x: torch.Tensor) -> torch.Tensor:
    shape = x.shape
    v = x.reshape(shape[0], -1).float()
    if isinstance(model, DBM):
        mu1, _ = model.mean_field(v)
        return model.visible_mean_from(mu1).reshape(shape)
    return model.visible_mean(model.hidden_mean(v)).reshape(shape)


def flip_pixels(v: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary images with each pixel flipped independently with probability ``fraction``."""
    flips = torch.rand(v.shape, generator=generator, device=v.device) < fraction
    return torch.where(flips, 1.0 - v, v)


@torch.no_grad()
def reconstruction_figures(model, v: torch.Tensor, flip: float = 0.15, seed: int = 0) -> dict:
    """Per-pixel error rates on binary images ``v`` (N, 784): of the reconstruction, and of the
    denoised images next to the noisy ones (flipping ``flip`` of the pixels) - lower is better."""
    g = torch.Generator(device=v.device).manual_seed(seed)
    recon = reconstruct(model, v).reshape(v.shape)
    noisy = flip_pixels(v, flip, g)
    denoised = reconstruct(model, noisy).reshape(v.shape)
    err = lambda a: float(((a > 0.5).float() != v).float().mean())  # noqa: E731
    return {"reconstruction_pixel_error": round(err(recon), 5),
            f"flipped_{round(flip * 100)}pct_pixel_error": round(err(noisy), 5),
            f"denoised_{round(flip * 100)}pct_pixel_error": round(err(denoised), 5)}
