"""Denoising score matching for a noise-conditional energy: E(x, sigma) = E(x) / sigma.

Contrastive divergence needs tens of Langevin steps per training step to draw negatives; on a
small CPU that leaves only a few hundred updates in five minutes. Denoising score matching
(Vincent 2011; Song & Ermon 2019) needs none: perturb a data batch, x~ = x + sigma * z with
sigma drawn over the sampler's noise ladder (log-uniform, or skewed toward large sigma by
``train.sigma_skew``, where a digit's global shape is learned), and train the energy's input gradient to
point back along the noise. With the NCSNv2 scaling (score = -grad E(x) / sigma), the weighted
objective is simply  || grad E(x~) - z ||^2, at about three forward passes per image. The energy
it learns is sampled by the ancestral sampler (:func:`schedules.ancestral_schedule`).

Contrastive refinement (``train.contrast`` = w > 0): DSM never shows the net the places its
sampler wanders to, and chains that end as dots or fragments go exactly there. The trainer then
keeps a :class:`chain_pool.ChainPool` of the sampler's own chains, staggered over the noise ladder,
and adds  w * mean[g(x+, s) - g(x-, s)]  over the chains x- at levels s <= ``train.contrast_sigma``
(every level by default) and data noised to the same levels x+ (g = sigma * E, the module's output:
the sigma weighting keeps the smallest levels from dominating). It is the maximum-likelihood
gradient of each p_sigma, estimated with the model's own samples, added to the score matching that
keeps the gradient field right (what it does to the meter's figures: benchmarks/QUALITY.md).
Restricted to the small levels it removed the failed samples too but let the mix of digits drift:
which digit a chain becomes is decided at large sigma, which then went uncorrected.
``train.contrast_tilt`` = p weights each chain's share by sigma**p (normalised to mean 1 over the
ladder), to lean on the large levels where that decision is made; a probe, off by default.
The pool's chains and levels are saved with the run, so a resumed run continues them (under
torchrun each rank runs its own share of the chains, from a random stream of its own).
The term needs the ancestral sampler of a noise-conditional energy and is skipped otherwise.
With ``train.contrast_phase`` = f the term runs only in the last fraction f of a budgeted run, at a
tenth of the learning rate (the session sets ``refining``; :func:`session.apply_budget_schedule`).

Records: ``loss`` is the DSM mean squared error per pixel (1.0 = the gradient explains none of the
noise), ``e_data`` the mean energy of clean data, ``e_samples`` that of the noised batch (with the
contrastive term: of noised data and of the chains, at the chains' levels), and ``negatives`` the
batch denoised by Tweedie's formula x~ - sigma * grad E(x~) (with the term: the latest samples the
chains finished) for the gallery.
"""

from __future__ import annotations

import math

import torch

from .. import distributed
from ..chain import drain
from ..precision import autocast, autocast_dtype
from ..trainer import StepTrainer, phase
from ..weight_average import WeightAverage
from .chain_pool import ChainPool
from .energy import build_conv_energy
from .gradient import takes_sigma
from .langevin import uniform_noise
from .prior_cache import fit_prior
from .sampler import gaussian_prior_of, langevin_sample_chain


class DSMTrainer(StepTrainer):
    """DSM with an exponential moving average of the weights (``train.ema``).

    Score models sample far better from averaged weights (Song & Ermon 2020): the average
    smooths the noise of the last optimisation steps. The EMA is what :meth:`export_model`
    returns, so checkpoints, the gallery and the canvas use it; the raw weights travel in the
    trainer state so training resumes exactly.
    """

    build_model = staticmethod(build_conv_energy)
    chain_state_keys = ("pool.x", "pool.level")

    def __init__(self, cfg, data, model=None, device=None):
        super().__init__(cfg, data, model, device)
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)
        prior = getattr(self.model, "prior", None)
        if model is None and prior is not None and distributed.is_writer():  # a new model: fit its Gaussian part
            fit_prior(prior, self.data[:20_000], cfg.train.seed)  # or the same fit, kept from an earlier run
        if model is None:
            distributed.broadcast_module(self.model)  # under torchrun: rank 0's fit and weights, to every rank
        self.average = WeightAverage(self.model)
        self.pool: ChainPool | None = None

    def update_settings(self, cfg) -> None:
        sampler_before = self.cfg.sampler
        super().update_settings(cfg)
        if self.cfg.sampler != sampler_before or (self.pool is not None and (
                len(self.pool) != self.shard_size(self.cfg.train.contrast_chains)
                or self.pool.levels_per_step != self.cfg.train.contrast_levels_per_step)):
            self.pool = None  # a new ladder or pool size: start the chains afresh

    def _chain_pool(self) -> ChainPool:
        if self.pool is None:
            s = self.cfg.sampler
            prior = gaussian_prior_of(self.model)
            use_prior = s.start == "prior" and prior is not None

            def start(n: int) -> torch.Tensor:
                u = torch.rand((n, 1, 28, 28), generator=self.chain_generator, device=self.device)
                return prior.from_uniform(u) if use_prior else u

            self.pool = ChainPool(s.sigma_max, s.sigma_min, s.levels, s.steps_per_level - 1, s.snr,
                                  self.shard_size(self.cfg.train.contrast_chains), start, self.chain_generator,
                                  self.device,
                                  autocast_dtype(s.precision, self.device),
                                  levels_per_step=self.cfg.train.contrast_levels_per_step)
        return self.pool

    def export_model(self):
        return self.average.pick(self.model, self.cfg.train.ema)

    def _update_ema(self) -> None:
        self.average.update(self.model, self.cfg.train.ema, self.step)

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Raw and averaged weights; the base energy's fit (``prior.*``, never trained, the same in
        both and in the exported model, ~10 MB for the mixture) is left to the model file."""
        out = self.average.state(self.model, skip=_fitted)
        if self.pool is not None:  # the contrastive chains, where they are on the ladder
            out.update({"pool.x": self.pool.x.clone(), "pool.level": self.pool.level.clone()})
        return out

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        self.average.restore(self.model, extra, skip=_fitted)
        if "pool.x" in extra and "pool.level" in extra:
            pool = self._chain_pool()
            if extra["pool.x"].shape == pool.x.shape and extra["pool.level"].shape == pool.level.shape:
                pool.x.copy_(extra["pool.x"])
                pool.level.copy_(extra["pool.level"].to(pool.level.dtype))

    def training_levels(self, batch: torch.Tensor) -> torch.Tensor:
        """A noise level per image of ``batch`` (n,) over the sampler's ladder: log sigma = log sigma_max -
        range * u**skew, u uniform (``train.sigma_skew`` > 1: more at large sigma); drawn for the global
        batch and split under torchrun, as :meth:`batch_noise`. Recovery likelihood draws the same."""
        s = self.cfg.sampler
        lo, hi = math.log(s.sigma_min), math.log(s.sigma_max)
        u = torch.rand((batch.shape[0] * self.world,), generator=self.generator, device=self.device)
        return self.mine(torch.exp(hi - (hi - lo) * u.pow(self.cfg.train.sigma_skew)))

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        with phase("noise draw"):
            sigma = self.training_levels(batch).view(-1, 1, 1, 1)
            z = self.batch_noise(batch)
            noisy = (batch + sigma * z).requires_grad_(True)
        with phase("energy and input gradient"), autocast(self.device, autocast_dtype(self.cfg.train.precision,
                                                                                       self.device)):
            energy = self.model(noisy, sigma) if takes_sigma(self.model) else self.model(noisy)
            (grad,) = torch.autograd.grad(energy.sum(), noisy, create_graph=True)
        grad = grad.float()
        dsm = (grad - z).pow(2).mean()  # outside autocast: the loss and its backward pass start in float32
        with phase("contrast chains"):
            contrast = self._contrast_term() if self.contrast_on else None
        loss = dsm if contrast is None else dsm + self.cfg.train.contrast * contrast[0]
        # only the weights: without ``inputs`` autograd also runs the second-order graph back to the noised
        # images (a leaf that requires grad), a share of every step (benchmarks/PERF.md)
        with phase("backward and optimiser"):
            grad_norm = self.backward_and_step(loss, inputs=[p for group in self.optimizer.param_groups
                                                             for p in group["params"] if p.requires_grad])
        with phase("weight average"):
            if torch.isfinite(grad_norm):
                self._update_ema()
        with torch.no_grad(), phase("chart probe"):
            if contrast is not None and len(self.pool.finished):
                self.negatives = self.pool.finished.clone()
                return {"loss": float(dsm.detach()), "grad_norm": float(grad_norm),
                        "e_data": contrast[1], "e_samples": contrast[2]}
            k = min(batch.shape[0], 64)
            self.negatives = (noisy[:k] - sigma[:k] * grad[:k]).detach().clamp(0, 1)
            e_clean = self.model(batch[:16]).mean()  # a small probe: the chart's E(data)
        return {
            "loss": float(dsm.detach()),
            "grad_norm": float(grad_norm),
            "e_data": float(e_clean),
            "e_samples": float(energy.detach().mean()),
        }

    @property
    def contrast_on(self) -> bool:
        """The term runs throughout when ``train.contrast`` > 0, or only in the budget's last
        ``train.contrast_phase`` when that is set (the session flags the phase: ``refining``)."""
        t = self.cfg.train
        return t.contrast > 0 and (t.contrast_phase <= 0 or self.refining) and self.contrast_applies

    @property
    def contrast_applies(self) -> bool:
        """The term needs chains of the ancestral sampler of a noise-conditional energy; with any
        other sampler or energy it is skipped (the studio greys the field out)."""
        return self.cfg.sampler.schedule == "ancestral" and takes_sigma(self.model)

    def _contrast_term(self) -> tuple[torch.Tensor, float, float] | None:
        """mean[g(x+, s) - g(x-, s)] over the pool's chains at levels s <= contrast_sigma and data
        noised to the same levels; with the two mean energies (None while no chain is that low yet)."""
        pool = self._chain_pool()
        pool.step(self.model)
        neg, sig = pool.negatives(self.cfg.train.contrast_sigma)
        if len(neg) == 0:
            return None
        pick = torch.randint(self.n_data, (len(neg),), generator=self.chain_generator, device=self.device)
        noise = torch.randn(neg.shape, generator=self.chain_generator, device=self.device)
        pos = self.data.index_select(0, pick) + sig.view(-1, 1, 1, 1) * noise
        with autocast(self.device, autocast_dtype(self.cfg.train.precision, self.device)):
            e = self.model(torch.cat([pos, neg]), torch.cat([sig, sig])).float()
        e_pos, e_neg = e.chunk(2)
        gap = e_pos - e_neg
        tilt = self.cfg.train.contrast_tilt
        if tilt:  # lean on some levels; the weights average 1 over the ladder, so w keeps its scale
            gap = gap * sig.pow(tilt) / pool.sigmas.pow(tilt).mean()
        return gap.mean(), float(e_pos.detach().mean()), float(e_neg.detach().mean())

    def sample(self, n: int, steps: int | None = None, x0: torch.Tensor | None = None, **overrides) -> torch.Tensor:
        x0 = uniform_noise(n, self.generator, self.device) if x0 is None else x0.to(self.device)
        return drain(langevin_sample_chain(self.export_model(), self.cfg, x0, steps=steps,
                                           generator=self.generator)).x.detach()


def _fitted(key: str) -> bool:
    """A state-dict key of the base energy's fit (not a trained weight)."""
    return key.startswith("prior.")
