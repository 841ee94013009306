"""Contrastive divergence that works on a small CPU: diffusion recovery likelihood (``train.objective
= "recovery"``; Gao et al. 2021).

Plain contrastive divergence asks short Langevin chains to find the model's own samples of p(x), a
many-moded density over 784 pixels; chains of tens of steps on a CPU budget never mix, and the
seed's recipes (``cd-uva``, ``cd-seed``) end as speckled blobs. Recovery likelihood keeps maximum
likelihood with MCMC negatives but asks an easier question at every noise level s of the ladder:
given a noisier copy y = x_s + d z (d = ``recovery_gap`` * s), what was x_s? Its conditional

    p(x | y)  ∝  exp(-E(x, s) - |x - y|^2 / (2 d^2))

is nearly unimodal (the quadratic pins it to y), so a few Langevin steps from y draw good
negatives: lower E at noised data x+, raise it at the chains' ends x-. No score matching is mixed
in. The energy is the noise-conditional conv net with the exact base energy of the mixture fit
(:mod:`mixture_prior`), as for score matching, so the net learns a residual.

Samples from noise are drawn the way the negatives are (:mod:`recovery_chain`).

The loss contrasts the module's output g = s * E(x, s) (a weight s per level, as the contrastive
term of :mod:`dsm` does, so the smallest levels do not dominate), plus ``train.alpha`` times the
squared gap: the energy-magnitude stabiliser of IGEBM/JEM, here on the difference (the base energy
is large and exact), which is small at the fit and bounds a runaway (one seed of five diverged
without it); the weights' moving average is
what is saved and sampled (:class:`dsm.DSMTrainer`, whose prior fit and state it shares).
Records: ``loss`` the mean of g(x+) - g(x-), ``e_data`` / ``e_samples`` the mean energies of noised
data and of the chains' ends at their levels, ``negatives`` the chains' ends denoised by Tweedie's
formula for the gallery (a few: that costs an evaluation).
"""

from __future__ import annotations

import torch

from ..accel import sampling_mode
from ..precision import autocast, autocast_dtype
from .dsm import DSMTrainer
from .langevin import evaluator
from .recovery_chain import conditional_step

VIEW = (-1, 1, 1, 1)
LIVE_NEGATIVES = 16  # the gallery's share of the negatives (their Tweedie costs an evaluation)


class RecoveryTrainer(DSMTrainer):
    """Maximum recovery likelihood at levels drawn like score matching's (``train.sigma_skew``)."""

    @property
    def contrast_on(self) -> bool:  # the chain-pool term belongs to score matching
        return False

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        t, smp = self.cfg.train, self.cfg.sampler
        n = batch.shape[0]
        sigma = self.training_levels(batch)
        gap = smp.recovery_gap * sigma
        pos = batch + sigma.view(VIEW) * self.batch_noise(batch)
        y = pos + gap.view(VIEW) * self.batch_noise(batch)
        dtype = autocast_dtype(t.precision, self.device)
        evaluate = evaluator(self.model, dtype, False)
        s4, d4 = sigma.view(VIEW), gap.view(VIEW)
        neg = y
        with sampling_mode(self.model):
            for _ in range(smp.recovery_steps):
                _, g = evaluate(neg, sigma)
                neg = conditional_step(neg, y, g, s4, d4, smp.recovery_step, self.chain_generator)  # rank's own
            k = min(n, LIVE_NEGATIVES)  # the gallery's: denoised by Tweedie
            _, g_live = evaluate(neg[:k], sigma[:k])
        self.negatives = (neg[:k] - s4[:k] * g_live).clamp(0, 1)
        with autocast(self.device, dtype):
            out = self.model(torch.cat([pos, neg]), torch.cat([sigma, sigma])).float()
        g_pos, g_negv = out[:n], out[n:]
        gap_e = g_pos - g_negv
        loss = gap_e.mean() + t.alpha * gap_e.pow(2).mean()
        grad_norm = self.backward_and_step(loss)
        if torch.isfinite(grad_norm):
            self._update_ema()
        return {
            "loss": float(loss.detach()),
            "grad_norm": float(grad_norm),
            "e_data": float((g_pos / sigma).detach().mean()),
            "e_samples": float((g_negv / sigma).detach().mean()),
        }
