"""Parallel tempering for an RBM's negative phase (Desjardins et al. 2010; Cho, Raiko & Ilin 2010).

Why: persistent chains at the model's own temperature stay in one digit's basin for thousands of
sweeps, so the negative phase sees a few modes and the model over-weights the rest (a 3-minute
RBM's fantasies: a third zeros, almost no ones). Replicas at higher temperatures move between
basins freely and pass their states down by swaps.

Replica k samples  log p*_k(v) = beta_k b.v + (1 - beta_k) b_A.v + sum_j softplus(beta_k (v W + c)_j),
the RBM at inverse temperature beta_k mixed with the independent-pixel model of the data's base
rates b_A (as in AIS, so the hottest replica is near the data's marginals, not uniform noise).
Betas run linearly from 1 down to ``beta_min``. Each step every replica takes one Gibbs sweep, then
neighbouring replicas (even pairs one step, odd pairs the next) swap states with the Metropolis
probability min(1, p*_k(v') p*_k'(v) / (p*_k(v) p*_k'(v'))), which leaves the product of the
replicas' distributions invariant. The beta = 1 replica supplies the negatives.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .rbm import RBM, sample_bernoulli


class ParallelTempering:
    def __init__(self, replicas: int, beta_min: float, n_chains: int, base_b: torch.Tensor, generator=None):
        self.betas = torch.linspace(1.0, beta_min, replicas, device=base_b.device)
        self.base_b = base_b
        self.n = n_chains
        self.chains = sample_bernoulli(torch.sigmoid(base_b).expand(replicas * n_chains, -1).contiguous(), generator)
        self.parity = 0
        self.swaps = torch.zeros(max(1, replicas - 1), device=base_b.device)  # acceptance rate per pair (EMA)

    @property
    def replicas(self) -> int:
        return len(self.betas)

    def _log_p(self, rbm: RBM, v: torch.Tensor, pre: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """log p*_beta(v) for rows ``v`` with pre-activations ``pre`` at per-row ``beta``."""
        return (beta * (v @ rbm.b) + (1 - beta) * (v @ self.base_b)
                + F.softplus(beta[:, None] * pre).sum(1))

    @torch.no_grad()
    def step(self, rbm: RBM, generator=None) -> torch.Tensor:
        """One sweep of every replica and one round of swaps; returns the beta = 1 replica's states."""
        k, n = self.replicas, self.n
        beta = self.betas.repeat_interleave(n)
        v = self.chains
        pre = torch.addmm(rbm.c, v, rbm.W)
        h = sample_bernoulli(torch.sigmoid(beta[:, None] * pre), generator)
        mean_v = torch.sigmoid(beta[:, None] * torch.addmm(rbm.b, h, rbm.W.T) + (1 - beta)[:, None] * self.base_b)
        v = sample_bernoulli(mean_v, generator)
        if k > 1:
            v = self._swap(rbm, v.view(k, n, -1), generator).reshape(k * n, -1)
        self.chains = v
        return v[:n]

    def _swap(self, rbm: RBM, v: torch.Tensor, generator) -> torch.Tensor:
        lo = torch.arange(self.parity, self.replicas - 1, 2, device=v.device)
        self.parity ^= 1
        if not len(lo):
            return v
        a, b = v[lo], v[lo + 1]  # (pairs, n, nv): colder and hotter neighbours
        ba = self.betas[lo].repeat_interleave(self.n)
        bb = self.betas[lo + 1].repeat_interleave(self.n)
        fa, fb = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
        pa, pb = torch.addmm(rbm.c, fa, rbm.W), torch.addmm(rbm.c, fb, rbm.W)
        log_r = (self._log_p(rbm, fb, pb, ba) + self._log_p(rbm, fa, pa, bb)
                 - self._log_p(rbm, fa, pa, ba) - self._log_p(rbm, fb, pb, bb))
        u = torch.rand(log_r.shape, generator=generator, device=v.device)
        accept = (u.log() < log_r).view(len(lo), self.n, 1)
        self.swaps[lo] = 0.99 * self.swaps[lo] + 0.01 * accept.float().mean((1, 2))
        v = v.clone()
        v[lo], v[lo + 1] = torch.where(accept, b, a), torch.where(accept, a, b)
        return v

    def state(self) -> dict[str, torch.Tensor]:
        return {"tempering.chains": self.chains.clone(), "tempering.swaps": self.swaps.clone()}

    def restore(self, extra: dict[str, torch.Tensor]) -> None:
        if "tempering.chains" in extra and extra["tempering.chains"].shape == self.chains.shape:
            self.chains = extra["tempering.chains"].to(self.chains).clone()
        if "tempering.swaps" in extra and extra["tempering.swaps"].shape == self.swaps.shape:
            self.swaps = extra["tempering.swaps"].to(self.swaps).clone()
