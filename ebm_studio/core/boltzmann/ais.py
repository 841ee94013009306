"""Annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008) for log-likelihoods.

The partition function Z of an RBM is intractable, so test log-likelihoods need an estimate.
AIS anneals from a tractable base model -- independent pixels at the data's base rates, whose
log Z is exact -- to the RBM through intermediate distributions
    log p*_beta(v) = (1 - beta) b_A.v + beta b.v + hidden term at beta,
carrying importance weights along Gibbs chains that leave each intermediate distribution
invariant. log Z = log Z_A + log mean(w), pooled over all chains; the standard error comes from
the spread of independent runs. (paysage's TAP estimate double-counts a hidden bias; not used.)

A deep Boltzmann machine's log Z is the log Z of the RBM over its first hidden layer (v and h2
summed out, :meth:`DBM.as_rbm_over_h1`), and its free energy is only bounded by mean field, so
its figure is a lower bound on the test log-likelihood (Salakhutdinov & Hinton 2009).

AIS errs towards *under*-estimating log Z (over-estimating the likelihood) when its chains mix
poorly; a small error bar does not rule that out, which is why the tests check it against exact
enumeration and why more temperatures (``n_betas``) are the safe direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

from .dbm import DBM
from .rbm import LOG_2PI, RBM, sample_bernoulli


@dataclass
class AISResult:
    log_z: float  # pooled over all runs' chains
    log_z_stderr: float  # standard error from the spread of the independent runs
    runs: list[float]  # each run's own estimate


def base_log_z(rbm: RBM, base_b: torch.Tensor) -> float:
    hidden = rbm.n_hidden * (math.log(2.0) if rbm.hidden_type == "bernoulli" else 0.5 * LOG_2PI)
    return float(F.softplus(base_b.double()).sum()) + hidden


def _hidden_term(rbm: RBM, pre: torch.Tensor) -> torch.Tensor:
    """log sum_h exp(h . pre) up to a beta-independent constant."""
    if rbm.hidden_type == "bernoulli":
        return F.softplus(pre).sum(1)
    return 0.5 * pre.pow(2).sum(1)


def temperatures(n_betas: int) -> list[float]:
    """Salakhutdinov & Murray's spacing: a tenth of the steps in [0, 0.5], a third in [0.5, 0.9],
    the rest in [0.9, 1], where the distribution changes fastest."""
    n_betas = max(3, n_betas)
    a, b = n_betas // 10 + 1, n_betas // 3 + 1
    return torch.cat([torch.linspace(0, 0.5, a)[:-1], torch.linspace(0.5, 0.9, b)[:-1],
                      torch.linspace(0.9, 1.0, n_betas - (a - 1) - (b - 1))]).tolist()


@torch.no_grad()
def ais_log_partition(rbm: RBM, base_b: torch.Tensor, n_chains: int = 100, n_betas: int = 10000,
                      runs: int = 5, seed: int = 0, progress: Callable[[int, int], None] | None = None) -> AISResult:
    """log Z of ``rbm`` by AIS with ``runs`` independent runs of ``n_chains`` chains each.
    ``progress(done, total)``: called every 100 temperatures (the CLI's progress bar)."""
    g = torch.Generator(device=rbm.W.device).manual_seed(seed)
    betas = temperatures(n_betas)
    base_b = base_b.to(rbm.W)
    log_za = base_log_z(rbm, base_b)
    all_w, estimates = [], []
    total = runs * (len(betas) - 1)
    for run in range(runs):
        v = sample_bernoulli(torch.sigmoid(base_b).expand(n_chains, -1), g)
        log_w = torch.zeros(n_chains, dtype=torch.float64, device=v.device)
        for i, (prev, beta) in enumerate(zip(betas[:-1], betas[1:])):
            if progress is not None and i % 100 == 0:
                progress(run * (len(betas) - 1) + i, total)
            pre = torch.addmm(rbm.c, v, rbm.W)  # one product serves the weight and the Gibbs step
            d_vis = (v @ rbm.b - v @ base_b) * (beta - prev)
            log_w += (d_vis + _hidden_term(rbm, beta * pre) - _hidden_term(rbm, prev * pre)).double()
            if rbm.hidden_type == "bernoulli":
                h = sample_bernoulli(torch.sigmoid(beta * pre), g)
            else:
                h = beta * pre + torch.randn(pre.shape, generator=g, device=pre.device)
            v = rbm.sample_visible(h, g, beta=beta, base_bias=base_b)
        all_w.append(log_w)
        if progress is not None:
            progress((run + 1) * (len(betas) - 1), total)
        estimates.append(log_za + float(torch.logsumexp(log_w, 0) - math.log(n_chains)))
    pooled = torch.cat(all_w)
    log_z = log_za + float(torch.logsumexp(pooled, 0) - math.log(len(pooled)))
    mean = sum(estimates) / len(estimates)
    var = sum((e - mean) ** 2 for e in estimates) / max(1, len(estimates) - 1)
    return AISResult(log_z, math.sqrt(var / len(estimates)), estimates)


@torch.no_grad()
def average_log_likelihood(rbm: RBM, v: torch.Tensor, log_z: float) -> float:
    """Mean log p(v) = -F(v) - log Z over binary images ``v`` (for a DBM, with its mean-field
    free energy: a lower bound)."""
    total = sum(float((-rbm.free_energy(chunk)).double().sum()) for chunk in torch.split(v, 2000))
    return total / v.shape[0] - log_z


def base_rate_bias(v: torch.Tensor) -> torch.Tensor:
    p = v.reshape(v.shape[0], -1).float().mean(0)
    p = (p * v.shape[0] + 0.5) / (v.shape[0] + 1.0)  # smoothed, never 0 or 1
    return torch.log(p) - torch.log1p(-p)


@torch.no_grad()
def log_likelihood_figures(model, train_v: torch.Tensor, test_v: torch.Tensor, n_chains: int = 100,
                           n_betas: int = 10000, runs: int = 5, seed: int = 0,
                           progress: Callable[[int, int], None] | None = None) -> dict:
    """AIS log Z and the mean test log-likelihood (nats) of an RBM, Hopfield model or DBM.

    ``train_v`` sets the base model's rates; ``test_v`` are binary test images (N, 784)."""
    if isinstance(model, DBM):
        mu1 = torch.cat([model.mean_field(chunk)[0] for chunk in torch.split(train_v, 2000)])
        res = ais_log_partition(model.as_rbm_over_h1(), base_rate_bias(mu1), n_chains, n_betas, runs, seed, progress)
        key = "test_log_likelihood_lower_bound_nats"
    else:
        res = ais_log_partition(model, base_rate_bias(train_v), n_chains, n_betas, runs, seed, progress)
        key = "test_log_likelihood_nats"
    ll = average_log_likelihood(model, test_v, res.log_z)
    return {"ais_log_z": round(res.log_z, 3), "ais_log_z_stderr": round(res.log_z_stderr, 3), key: round(ll, 3)}
