"""Reconstruction guidance of masked chains (conv/inpaint_guidance.py): its gradient, its value, its effect."""

import numpy as np
import torch
from torch import nn

from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.gradient import energy_and_grad
from ebm_studio.core.conv.inpaint_guidance import ReconstructionGuided, guided_for_mask
from ebm_studio.core.conv.langevin import langevin_chain
from ebm_studio.core.conv.schedules import ancestral_schedule
from ebm_studio.core.families import build_model
from ebm_studio.core.playback import ChainPlayer, PlaybackSettings


class Quadratic(nn.Module):
    """g(x, sigma) = x^T Q x / (2 sigma) on 4-pixel images: dg/dx = Q x / sigma, Tweedie x0 = (I - Q) x."""

    uses_sigma = True

    def __init__(self, q: torch.Tensor):
        super().__init__()
        self.q = q

    def forward(self, x, sigma):
        v = x.flatten(1)
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1)
        return 0.5 * ((v @ self.q) * v).sum(1) / s


class TwoModes(nn.Module):
    """sigma * E for two-pixel data at (0, 0) or (1, 1), each spread s0, noised to sigma: exact."""

    uses_sigma = True

    def forward(self, x, sigma, s0=0.05):
        s = torch.as_tensor(sigma, dtype=x.dtype)
        v = x.flatten(1)
        d = torch.stack([(v ** 2).sum(1), ((v - 1) ** 2).sum(1)], 1)
        return -s * torch.logsumexp(-d / (2 * (s0 ** 2 + s ** 2)), 1)


def test_gradient_is_the_score_plus_the_guidance_term_in_closed_form():
    torch.manual_seed(0)
    a = torch.randn(4, 4) * 0.4
    q = a @ a.T + 0.2 * torch.eye(4)
    mask = torch.tensor([True, True, False, False]).view(1, 1, 2, 2)
    x = torch.rand(3, 1, 2, 2)
    sigma = torch.tensor([0.5, 0.2, 0.9])
    w = 3.0
    e, g = energy_and_grad(ReconstructionGuided(Quadratic(q), mask, w), x, sigma)
    v, m = x.flatten(1), mask.flatten().float()
    s = sigma[:, None]
    miss = -(v @ q) * m  # M (x0 - x) = -M Q x
    expected = v @ q / s + w / s * (miss @ (torch.eye(4) - q))  # (I - Q)^T M (x0 - x), Q symmetric
    assert torch.allclose(g.flatten(1), expected, atol=1e-5)
    assert torch.allclose(e, Quadratic(q)(x, sigma), atol=1e-6)  # the value is the model's energy
    _, plain = energy_and_grad(Quadratic(q), x, sigma)
    assert not torch.allclose(plain, g, atol=1e-3)


def test_only_masked_chains_of_noise_conditional_energies_are_wrapped():
    model, mask = TwoModes(), torch.ones(1, 1, 1, 2, dtype=torch.bool)
    assert guided_for_mask(model, None, 4.0) is model
    assert guided_for_mask(model, mask, 0.0) is model
    blind = nn.Linear(2, 1)
    assert guided_for_mask(blind, mask, 4.0) is blind
    assert isinstance(guided_for_mask(model, mask, 4.0), ReconstructionGuided)


def completes_as_the_clamped_pixel(weight: float, top: float = 0.7, n: int = 2000) -> float:
    """Share of chains whose free pixel ends in the mode the clamped pixel ``top`` belongs to (1)."""
    mask = torch.tensor([True, False]).view(1, 1, 1, 2)
    x0 = torch.zeros(n, 1, 1, 2)
    x0[..., 0] = top
    model = guided_for_mask(TwoModes(), mask, weight)
    g = torch.Generator().manual_seed(0)
    last = None
    for last in langevin_chain(model, x0, mask=mask, schedule=ancestral_schedule(1.0, 0.02, 100), generator=g,
                               grad_clip=None, clamp=None):
        pass
    assert torch.equal(last.x[..., 0], x0[..., 0])
    return float((last.x[..., 1] > 0.5).float().mean())


def test_guided_chain_completes_the_mode_the_clamped_pixel_is_in():
    # With the exact score, p(free | clamped = 0.7) is all but certain to be the (1, 1) mode, yet a chain
    # that only holds the clamped pixel lets the free one commit at large noise, where 0.7 says little.
    plain, guided = completes_as_the_clamped_pixel(0.0), completes_as_the_clamped_pixel(4.0)
    assert guided >= 0.95
    assert guided > plain + 0.15


def test_canvas_inpainting_chain_is_guided_by_the_config_weight():
    def play(weight):
        cfg = RunConfig().with_overrides(**{"model.width": 8, "sampler.inpaint_guidance": weight})
        torch.manual_seed(0)
        model = build_model(cfg)
        settings = PlaybackSettings.for_model(cfg, anneal_from=1.0, total_steps=8)
        mask = np.zeros((28, 28), bool)
        mask[:14] = True
        img = np.random.default_rng(0).random((28, 28)).astype(np.float32)
        p = ChainPlayer(model, cfg, img, n_chains=2, mask=mask, seed=3, settings=settings)
        while p.step():
            pass
        assert np.array_equal(p.current[:, mask], np.broadcast_to(img[mask], p.current[:, mask].shape))
        return p

    plain, guided = play(0.0), play(4.0)
    assert np.array_equal(plain.energy_trace()[0], guided.energy_trace()[0])  # same start, same reported energy
    assert not np.allclose(plain.current, guided.current, atol=1e-4)
