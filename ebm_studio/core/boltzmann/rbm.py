"""Restricted Boltzmann machines with Bernoulli visible units.

Energy E(v, h) = -b.v - v.W.h + (hidden term); the hidden units are either Bernoulli
(the classic RBM; hidden term -c.h) or Gaussian with fixed mean 0 and variance 1 (the
"Hopfield" model of seed 002: hidden term +||h||^2 / 2, which makes the marginal over v a
Hopfield network with patterns W). The *free energy* F(v) = -log sum_h exp(-E(v, h)) is the
model's energy of an image: it is what the canvas shows, what the trainer pushes down on data
and up on fantasy particles, and what AIS integrates.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2 * math.pi)


def sample_bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary states with probabilities ``p``: 1 where ``u < p`` for uniform ``u`` in [0, 1), computed
    as ceil(p - u) in place (on CPU about 2.5x faster than ``torch.bernoulli``, whose sampler
    dominated a training step). Zeros may carry a negative sign (-0.0), which compares equal to 0."""
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return torch.sub(p, u, out=u).ceil_()


class RBM(nn.Module):
    def __init__(self, n_visible: int = 784, n_hidden: int = 200, hidden: str = "bernoulli"):
        super().__init__()
        if hidden not in ("bernoulli", "gaussian"):
            raise ValueError(f"hidden units must be 'bernoulli' or 'gaussian', got {hidden!r}")
        self.hidden_type = hidden
        self.n_visible, self.n_hidden = n_visible, n_hidden
        self.W = nn.Parameter(torch.randn(n_visible, n_hidden) * math.sqrt(2.0 / (n_visible + n_hidden)))
        self.b = nn.Parameter(torch.zeros(n_visible))
        self.c = nn.Parameter(torch.zeros(n_hidden))
        if hidden == "gaussian":
            self.c.requires_grad_(False)  # fixed mean 0 (variance fixed at 1)

    # --- energies -----------------------------------------------------------------------------
    @staticmethod
    def flat(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        v = self.flat(v)
        pre = v @ self.W + self.c
        if self.hidden_type == "bernoulli":
            return -(v @ self.b) - F.softplus(pre).sum(1)
        return -(v @ self.b) - 0.5 * pre.pow(2).sum(1) - 0.5 * self.n_hidden * LOG_2PI

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.free_energy(x)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.free_energy(x)

    # --- conditionals (block Gibbs) -----------------------------------------------------------
    def hidden_mean(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        pre = beta * (self.flat(v) @ self.W + self.c)
        return torch.sigmoid(pre) if self.hidden_type == "bernoulli" else pre

    def sample_hidden(self, v: torch.Tensor, generator=None, beta: float = 1.0) -> torch.Tensor:
        mean = self.hidden_mean(v, beta)
        if self.hidden_type == "bernoulli":
            return sample_bernoulli(mean, generator)
        return mean + torch.randn(mean.shape, generator=generator, device=mean.device)

    def visible_mean(self, h: torch.Tensor, beta: float = 1.0, base_bias: torch.Tensor | None = None) -> torch.Tensor:
        pre = beta * (h @ self.W.T + self.b)
        if base_bias is not None:
            pre = pre + (1.0 - beta) * base_bias
        return torch.sigmoid(pre)

    def sample_visible(self, h: torch.Tensor, generator=None, beta: float = 1.0, base_bias=None) -> torch.Tensor:
        return sample_bernoulli(self.visible_mean(h, beta, base_bias), generator)

    # --- learning -----------------------------------------------------------------------------
    def _hidden_term(self, pre: torch.Tensor) -> torch.Tensor:
        if self.hidden_type == "bernoulli":
            return F.softplus(pre).sum(1)
        return 0.5 * pre.pow(2).sum(1) + 0.5 * self.n_hidden * LOG_2PI

    @torch.no_grad()
    def contrastive_gradient(self, v_data: torch.Tensor, v_model: torch.Tensor, data_means: dict | None = None):
        """Gradient of  mean F(v_data) - mean F(v_model)  with respect to (W, b, c), in closed form.

        dF/dW = -v E[h | v]^T, dF/db = -v, dF/dc = -E[h | v]: six matrix products a step and no
        autograd graph (tests check it against autograd). Also returns both mean free energies,
        from the pre-activations the gradient needs anyway. ``data_means``, if given, receives the
        data's mean image "v" and mean hidden activation "h" (what centring's offsets follow)."""
        v_data, v_model = self.flat(v_data), self.flat(v_model)
        pre_d = torch.addmm(self.c, v_data, self.W)
        pre_m = torch.addmm(self.c, v_model, self.W)
        if self.hidden_type == "bernoulli":
            m_d, m_m = torch.sigmoid(pre_d), torch.sigmoid(pre_m)
        else:
            m_d, m_m = pre_d, pre_m
        n_d, n_m = v_data.shape[0], v_model.shape[0]
        g_w = torch.addmm(v_model.T @ m_m, v_data.T, m_d, beta=1.0 / n_m, alpha=-1.0 / n_d)
        g_b = v_model.sum(0).div_(n_m).sub_(v_data.sum(0), alpha=1.0 / n_d)
        g_c = m_m.sum(0).div_(n_m).sub_(m_d.sum(0), alpha=1.0 / n_d)
        if data_means is not None:
            data_means["v"], data_means["h"] = v_data.mean(0), m_d.mean(0)
        f_d = float(v_data.sum(0) @ self.b + self._hidden_term(pre_d).sum()) / -n_d
        f_m = float(v_model.sum(0) @ self.b + self._hidden_term(pre_m).sum()) / -n_m
        return (g_w, g_b, g_c), f_d, f_m

    def weights_image(self):
        """(n_hidden, 784) receptive fields for the GUI."""
        return self.W.detach().T.float().cpu().numpy().copy()

    # --- initialisation -----------------------------------------------------------------------
    @torch.no_grad()
    def init_from_data(self, v: torch.Tensor) -> None:
        """Visible biases at the base rates: the model starts as the independent-pixel model."""
        p = self.flat(v).float().mean(0).clamp(1e-3, 1 - 1e-3)
        self.b.copy_(torch.log(p) - torch.log1p(-p))

    @torch.no_grad()
    def init_pca(self, v: torch.Tensor) -> None:
        """paysage's PCA initialisation: the weights are the leading principal components of the
        data, each scaled by its standard deviation (relative to the total), at Glorot's scale."""
        x = self.flat(v).float()
        if self.n_hidden > min(x.shape):
            raise ValueError(f"PCA initialisation needs at least {self.n_hidden} images and visible units "
                             f"(one component per hidden unit); got {x.shape[0]} images of {x.shape[1]} pixels")
        x = x - x.mean(0)
        _, s, vh = torch.linalg.svd(x, full_matrices=False)
        std = (s[: self.n_hidden].pow(2) / max(1, x.shape[0] - 1) + 1e-6).sqrt()
        glorot = math.sqrt(2.0 / (self.n_visible + self.n_hidden))
        self.W.copy_(glorot * math.sqrt(self.n_visible) * (std / std.norm()) * vh[: self.n_hidden].T)


#: The most units on one side of an RBM whose states :func:`exact_log_partition` enumerates (2^20).
MAX_EXACT_UNITS = 20


def can_enumerate(rbm: RBM) -> bool:
    """Whether :func:`exact_log_partition` can enumerate one side of ``rbm``."""
    return (rbm.hidden_type == "bernoulli" and rbm.n_hidden <= MAX_EXACT_UNITS) or rbm.n_visible <= MAX_EXACT_UNITS


def exact_log_partition(rbm: RBM, chunk: int = 1 << 14) -> float:
    """log Z by enumeration of the smaller side, ``chunk`` states at a time (2^20 states of a
    784-pixel model in ~50 MB pieces): over Bernoulli hidden states h, log Z = logsumexp_h
    [c.h + sum_i softplus(b_i + (W h)_i)] (the visible units summed out); over visible states v
    (also for Gaussian hidden units), log Z = logsumexp_v -F(v)."""
    by_hidden = rbm.hidden_type == "bernoulli" and rbm.n_hidden <= min(MAX_EXACT_UNITS, rbm.n_visible)
    if not by_hidden and rbm.n_visible > MAX_EXACT_UNITS:
        raise ValueError(f"exact log Z enumerates at most {MAX_EXACT_UNITS} units on one side of the RBM "
                         f"(Bernoulli hidden or visible); this one has {rbm.n_visible} x {rbm.n_hidden}")
    n = rbm.n_hidden if by_hidden else rbm.n_visible
    with torch.no_grad():
        bits = torch.arange(n, device=rbm.W.device)
        parts = []
        for first in range(0, 2**n, chunk):
            idx = torch.arange(first, min(2**n, first + chunk), device=rbm.W.device)
            states = ((idx.unsqueeze(1) >> bits) & 1).to(rbm.W.dtype)
            if by_hidden:
                terms = states @ rbm.c + F.softplus(states @ rbm.W.T + rbm.b).sum(1)
            else:
                terms = -rbm.free_energy(states)
            parts.append(torch.logsumexp(terms.double(), 0))
        return float(torch.logsumexp(torch.stack(parts), 0))
