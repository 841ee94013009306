"""Persistent ancestral chains, staggered over the noise ladder: the negatives of contrastive refinement.

Denoising score matching trains an energy's gradient only near noised data; the chains that end as
dots or fragments wander where the net was never trained (``experiments/dots_probe.py``).
Contrastive divergence trains the energy exactly where the sampler goes, but it needs samples of
the model at every noise level, and a full ancestral chain costs hundreds of steps. A pool of
chains that each sit at their own level of the sampler's ladder gives them almost for free: every
training step moves every chain down ``levels_per_step`` levels (the sampler's own corrector and
ancestral steps, with the model as it is now), so each level always holds a few chains, and a chain
at level sigma is (approximately) a sample of the model's p_sigma, the data blurred by noise sigma.
Chains that reach the bottom are finished samples and restart from the sampler's start.

The pool starts staggered without an up-front pass: chain j waits j * levels / size levels before it
starts, so the first pass of the ladder costs what every later one does, a little per step.
"""

from __future__ import annotations

import torch
from torch import nn

from .gradient import energy_and_grad
from .schedules import ancestral_step, corrector_step, sigma_ladder


class ChainPool:
    """``size`` chains of the ancestral predictor-corrector sampler (:func:`schedules.ancestral_schedule`)."""

    KEEP_FINISHED = 64  # the latest finished samples kept for a gallery

    def __init__(self, sigma_max: float, sigma_min: float, levels: int, corrector: int, snr: float, size: int,
                 start_fn, generator: torch.Generator, device: torch.device | str = "cpu",
                 precision: torch.dtype | None = None, levels_per_step: int = 2):
        """``start_fn(n)`` returns n starting images (before the sampler's first noise of sigma_max)."""
        self.levels = max(1, int(levels))
        ladder = sigma_ladder(sigma_max, sigma_min, self.levels)
        self.sigmas = torch.tensor(ladder, device=device)
        self.next_sigmas = torch.tensor(ladder[1:] + [0.0], device=device)
        self.sigma_max = float(sigma_max)
        self.corrector = max(0, int(corrector))
        self.snr = float(snr)
        self.start_fn = start_fn
        self.generator = generator
        self.device = torch.device(device)
        self.precision = precision
        self.levels_per_step = max(1, int(levels_per_step))
        self.x = self._fresh(size)
        # negative levels: chains still waiting for their turn to start (the stagger)
        self.level = -((torch.arange(size, device=self.device) * self.levels) // max(1, size))
        self.finished = torch.empty(0, 1, 28, 28, device=self.device)  # the latest finished samples

    def __len__(self) -> int:
        return self.x.shape[0]

    def _fresh(self, n: int) -> torch.Tensor:
        x0 = self.start_fn(n).to(self.device, torch.float32)
        return x0 + self.sigma_max * torch.randn(x0.shape, generator=self.generator, device=self.device)

    def _grad(self, model: nn.Module, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return energy_and_grad(model, x, sigma, self.precision)[1]

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.generator, device=self.device)

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """Move every started chain ``levels_per_step`` levels down; waiting chains count down."""
        for _ in range(self.levels_per_step):
            self._one_level(model)

    def _one_level(self, model: nn.Module) -> None:
        started = self.level >= 0
        self.level[~started] += 1
        idx = started.nonzero().squeeze(1)
        if len(idx) == 0:
            return
        x, lv = self.x[idx], self.level[idx]
        s = self.sigmas[lv].view(-1, 1, 1, 1)
        nxt = self.next_sigmas[lv].view(-1, 1, 1, 1)
        for _ in range(self.corrector):  # Langevin at this level (schedules.corrector_step)
            step, noise = corrector_step(s, self.snr)
            x = x - step * self._grad(model, x, s.view(-1)) + noise * self._noise(x)
        step, noise = ancestral_step(s, nxt)  # to the next level (Tweedie's denoising at the last)
        x = x - step * self._grad(model, x, s.view(-1)) + noise * self._noise(x)
        lv = lv + 1
        done = lv >= self.levels
        if done.any():
            self.finished = torch.cat([self.finished, x[done].clamp(0, 1)])[-self.KEEP_FINISHED:]
            x[done] = self._fresh(int(done.sum()))
            lv[done] = 0
        bad = ~torch.isfinite(x).flatten(1).all(1)  # a chain blown up by a diverging model starts over
        if bad.any():
            x[bad] = self._fresh(int(bad.sum()))
            lv[bad] = 0
        self.x[idx] = x
        self.level[idx] = lv

    def negatives(self, sigma_max: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The chains now at levels sigma <= ``sigma_max`` and their levels: (images, sigmas)."""
        at = (self.level >= 0).nonzero().squeeze(1)
        sig = self.sigmas[self.level[at]]
        low = sig <= sigma_max
        return self.x[at[low]], sig[low]
