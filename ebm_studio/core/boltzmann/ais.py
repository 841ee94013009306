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
poorly: its weights average to Z / Z_A, so by Jensen E[log Z_AIS] <= log Z. A small error bar
does not rule that out. Reverse AIS (Burda, Grosse & Salakhutdinov 2015) runs the same
annealing backwards from model samples; its weights average to Z_A / Z, so it errs the other
way, and the pair brackets the truth (the anchor: -84.86 forward, -96.61 reverse). ``evaluate``
reports both; the tests check both against exact enumeration (``rbm.exact_log_partition``).
More temperatures (``n_betas``) narrow the gap.

Why the DBM's figure is a true lower bound up to AIS: for any factorised q(h1) q(h2),
log p(v) >= -E_q[E(v, h)] + H(q) - log Z = -F_mf(v) - log Z (Jensen), and E is linear in each
layer, so E_q[E] is the energy at the mean-field means (``DBM.free_energy``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

from .dbm import DBM
from .rbm import LOG_2PI, RBM, can_enumerate, exact_log_partition, sample_bernoulli


@dataclass
class AISResult:
    log_z: float  # pooled over all runs' chains
    log_z_stderr: float  # standard error from the spread of the independent runs
    runs: list[float]  # each run's own estimate
    states: torch.Tensor | None = None  # forward AIS: the chains' last states, resampled by their weights


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
    n_betas = max(4, n_betas)  # both ends and at least one point in each stretch, whatever n_betas is
    a, b = max(2, n_betas // 10 + 1), max(2, n_betas // 3 + 1)
    return torch.cat([torch.linspace(0, 0.5, a)[:-1], torch.linspace(0.5, 0.9, b)[:-1],
                      torch.linspace(0.9, 1.0, n_betas - (a - 1) - (b - 1))]).tolist()


def _anneal(rbm: RBM, base_b: torch.Tensor, v: torch.Tensor, betas: list[float], g: torch.Generator,
            progress: Callable[[int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Log importance weights of chains at ``v`` carried through ``betas`` (either direction): at each
    pair (a, b) the weight gains log p*_b(v) - log p*_a(v), then v moves by a Gibbs sweep that leaves
    p_b invariant. Ascending betas are forward AIS, descending ones reverse AIS. Returns the log
    weights and the chains' last states."""
    log_w = torch.zeros(v.shape[0], dtype=torch.float64, device=v.device)
    for i, (prev, beta) in enumerate(zip(betas[:-1], betas[1:])):
        if progress is not None and i % 100 == 0:
            progress(i)
        pre = torch.addmm(rbm.c, v, rbm.W)  # one product serves the weight and the Gibbs step
        d_vis = (v @ rbm.b - v @ base_b) * (beta - prev)
        log_w += (d_vis + _hidden_term(rbm, beta * pre) - _hidden_term(rbm, prev * pre)).double()
        if rbm.hidden_type == "bernoulli":
            h = sample_bernoulli(torch.sigmoid(beta * pre), g)
        else:
            h = beta * pre + torch.randn(pre.shape, generator=g, device=pre.device)
        v = rbm.sample_visible(h, g, beta=beta, base_bias=base_b)
    return log_w, v


def _pooled(log_za: float, all_w: list[torch.Tensor], sign: float) -> AISResult:
    """log Z = log Z_A + sign * log mean(w) pooled over every chain; the error from the runs' spread."""
    def estimate(log_w):
        return log_za + sign * float(torch.logsumexp(log_w, 0) - math.log(len(log_w)))
    estimates = [estimate(w) for w in all_w]
    mean = sum(estimates) / len(estimates)
    var = sum((e - mean) ** 2 for e in estimates) / max(1, len(estimates) - 1)
    return AISResult(estimate(torch.cat(all_w)), math.sqrt(var / len(estimates)), estimates)


@torch.no_grad()
def ais_log_partition(rbm: RBM, base_b: torch.Tensor, n_chains: int = 100, n_betas: int = 10000,
                      runs: int = 5, seed: int = 0, progress: Callable[[int, int], None] | None = None) -> AISResult:
    """log Z of ``rbm`` by AIS with ``runs`` independent runs of ``n_chains`` chains each.
    ``progress(done, total)``: called every 100 temperatures (the CLI's progress bar)."""
    g = torch.Generator(device=rbm.W.device).manual_seed(seed)
    betas = temperatures(n_betas)
    base_b = base_b.to(rbm.W)
    steps = len(betas) - 1
    all_w, states = [], []
    for run in range(runs):
        v = sample_bernoulli(torch.sigmoid(base_b).expand(n_chains, -1), g)
        tick = None if progress is None else (lambda i, run=run: progress(run * steps + i, runs * steps))
        log_w, v = _anneal(rbm, base_b, v, betas, g, tick)
        all_w.append(log_w)
        states.append(v[torch.multinomial(torch.softmax(log_w, 0), n_chains, replacement=True, generator=g)])
        if progress is not None:
            progress((run + 1) * steps, runs * steps)
    res = _pooled(base_log_z(rbm, base_b), all_w, 1.0)
    res.states = torch.cat(states)
    return res


@torch.no_grad()
def reverse_ais_log_partition(rbm: RBM, base_b: torch.Tensor, start: torch.Tensor, n_betas: int = 10000,
                              runs: int = 5, burn_in: int = 1000, seed: int = 0,
                              progress: Callable[[int, int], None] | None = None) -> AISResult:
    """log Z of ``rbm`` by reverse AIS (Burda, Grosse & Salakhutdinov 2015): chains start at the model
    (``start``: runs x chains binary states, e.g. forward AIS's last states, moved ``burn_in`` Gibbs
    sweeps at beta = 1 towards the model) and anneal down to the base model. Their weights average to Z_A / Z,
    so log Z = log Z_A - log mean(w): with exact model samples its expectation is *above* log Z
    (Jensen), so the log-likelihood it gives errs low -- the conservative side, opposite to
    forward AIS. (Chains that start off the model void that guarantee; the burn-in narrows it.)"""
    g = torch.Generator(device=rbm.W.device).manual_seed(seed)
    betas = temperatures(n_betas)[::-1]
    base_b = base_b.to(rbm.W)
    steps = len(betas) - 1
    chains = torch.chunk(start.to(rbm.W), runs)
    all_w = []
    for run, v in enumerate(chains):
        for _ in range(burn_in):
            v = rbm.sample_visible(rbm.sample_hidden(v, g), g)
        tick = None if progress is None else (lambda i, run=run: progress(run * steps + i, len(chains) * steps))
        all_w.append(_anneal(rbm, base_b, v, betas, g, tick)[0])
        if progress is not None:
            progress((run + 1) * steps, len(chains) * steps)
    return _pooled(base_log_z(rbm, base_b), all_w, -1.0)


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


#: What each figure's error leans towards, for the reports (evaluate prints it beside the figures).
SIDES = {"forward": "optimistic: AIS errs towards too small a log Z, so too high a log-likelihood",
         "reverse": "conservative: reverse AIS errs towards too large a log Z, so too low a log-likelihood",
         "exact": "exact: log Z by enumeration"}


@torch.no_grad()
def log_likelihood_figures(model, train_v: torch.Tensor, test_v: torch.Tensor, n_chains: int = 100,
                           n_betas: int = 10000, runs: int = 5, seed: int = 0,
                           progress: Callable[[int, int], None] | None = None, reverse: bool = True) -> dict:
    """Forward and reverse AIS log Z (with their standard errors) and the mean test log-likelihood
    (nats) each gives, for an RBM, Hopfield model or DBM; a model with at most 20 units on one
    side (``rbm.MAX_EXACT_UNITS``) also gets the exact figure. The true value lies between the two estimates
    in expectation (up to the reverse chains' start, see :func:`reverse_ais_log_partition`).

    ``train_v`` sets the base model's rates; ``test_v`` are binary test images (N, 784). The
    reverse chains start where the forward ones ended, resampled by their weights, and take
    ``n_betas / 10`` Gibbs sweeps first: training images as starts came out *below* forward AIS
    on a 3-minute centred RBM-200 (383.1 against 384.7; they miss the model's mass away from
    the data), these above it (385.4 against 385.0), the side the theory gives. A DBM's figures
    are variational lower bounds."""
    if isinstance(model, DBM):
        mu1 = torch.cat([model.mean_field(chunk)[0] for chunk in torch.split(train_v, 2000)])
        rbm, base = model.as_rbm_over_h1(), base_rate_bias(mu1)
        key = "test_log_likelihood_lower_bound"
    else:
        rbm, base, key = model, base_rate_bias(train_v), "test_log_likelihood"
    phases = 2 if reverse else 1

    def phase(k):
        return None if progress is None else (lambda done, total: progress(k * total + done, phases * total))

    res = ais_log_partition(rbm, base, n_chains, n_betas, runs, seed, phase(0))
    mean_neg_f = average_log_likelihood(model, test_v, 0.0)
    out = {"ais_log_z": round(res.log_z, 3), "ais_log_z_stderr": round(res.log_z_stderr, 3),
           f"{key}_nats": round(mean_neg_f - res.log_z, 3)}
    if reverse:
        rev = reverse_ais_log_partition(rbm, base, res.states, n_betas, runs, burn_in=max(1, n_betas // 10), seed=seed,
                                        progress=phase(1))
        out.update({"reverse_ais_log_z": round(rev.log_z, 3), "reverse_ais_log_z_stderr": round(rev.log_z_stderr, 3),
                    f"{key}_reverse_ais_nats": round(mean_neg_f - rev.log_z, 3)})
    if can_enumerate(rbm):
        exact = exact_log_partition(rbm)
        out.update({"exact_log_z": round(exact, 3), f"{key}_exact_nats": round(mean_neg_f - exact, 3)})
    return out
