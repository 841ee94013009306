"""Annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008) for RBM log-likelihoods.

The partition function Z of an RBM is intractable, so test log-likelihoods need an estimate.
AIS anneals from a tractable base model -- independent pixels at the data's base rates, whose
log Z is exact -- to the RBM through intermediate distributions
    log p*_beta(v) = (1 - beta) b_A.v + beta b.v + hidden term at beta,
carrying importance weights along Gibbs chains. log Z = log Z_A + log mean(w). Independent
runs give a standard error. (paysage's TAP estimate double-counts a hidden bias; not used.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .rbm import LOG_2PI, RBM


@dataclass
class AISResult:
    log_z: float
    log_z_stderr: float
    runs: list[float]


def _log_pstar(rbm: RBM, v: torch.Tensor, beta: float, base_b: torch.Tensor) -> torch.Tensor:
    pre = beta * (v @ rbm.W + rbm.c)
    vis = (1.0 - beta) * (v @ base_b) + beta * (v @ rbm.b)
    if rbm.hidden_type == "bernoulli":
        return vis + F.softplus(pre).sum(1)
    return vis + 0.5 * pre.pow(2).sum(1) + 0.5 * rbm.n_hidden * LOG_2PI


def base_log_z(rbm: RBM, base_b: torch.Tensor) -> float:
    hidden = rbm.n_hidden * (math.log(2.0) if rbm.hidden_type == "bernoulli" else 0.5 * LOG_2PI)
    return float(F.softplus(base_b).sum()) + hidden


@torch.no_grad()
def ais_log_partition(rbm: RBM, base_b: torch.Tensor, n_chains: int = 100, n_betas: int = 10000,
                      runs: int = 5, seed: int = 0) -> AISResult:
    """log Z of ``rbm`` by AIS with ``runs`` independent runs of ``n_chains`` chains each."""
    g = torch.Generator().manual_seed(seed)
    betas = torch.cat([torch.linspace(0, 0.5, n_betas // 10 + 1)[:-1], torch.linspace(0.5, 0.9, n_betas // 3 + 1)[:-1],
                       torch.linspace(0.9, 1.0, n_betas - n_betas // 10 - n_betas // 3)]).tolist()
    log_za = base_log_z(rbm, base_b)
    estimates = []
    for _ in range(runs):
        v = torch.bernoulli(torch.sigmoid(base_b).expand(n_chains, -1), generator=g)
        log_w = torch.zeros(n_chains, dtype=torch.float64)
        for prev, beta in zip(betas[:-1], betas[1:]):
            log_w += (_log_pstar(rbm, v, beta, base_b) - _log_pstar(rbm, v, prev, base_b)).double()
            h = rbm.sample_hidden(v, g, beta=beta)
            v = rbm.sample_visible(h, g, beta=beta, base_bias=base_b)
        estimates.append(log_za + float(torch.logsumexp(log_w, 0) - math.log(n_chains)))
    mean = sum(estimates) / len(estimates)
    var = sum((e - mean) ** 2 for e in estimates) / max(1, len(estimates) - 1)
    return AISResult(mean, math.sqrt(var / len(estimates)), estimates)


@torch.no_grad()
def average_log_likelihood(rbm: RBM, v: torch.Tensor, log_z: float) -> float:
    """Mean log p(v) = -F(v) - log Z over binary images ``v``."""
    return float((-rbm.free_energy(v)).double().mean()) - log_z


def base_rate_bias(v: torch.Tensor) -> torch.Tensor:
    p = v.reshape(v.shape[0], -1).float().mean(0)
    p = (p * v.shape[0] + 0.5) / (v.shape[0] + 1.0)  # smoothed, never 0 or 1
    return torch.log(p) - torch.log1p(-p)
