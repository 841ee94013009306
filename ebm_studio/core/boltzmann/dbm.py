"""A deep Boltzmann machine v - h1 - h2 (Salakhutdinov & Hinton 2009), Bernoulli units throughout.

E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - v.W1.h1 - h1.W2.h2. Unlike an RBM its free energy is
intractable, so ``energy(v)`` is the mean-field (variational) free energy, an upper bound on the
true free energy: sum_q E - H(q) at the fixed point of q(h1) q(h2). Sampling is block Gibbs over
the two parity blocks {v, h2} and {h1}.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .rbm import RBM, sample_bernoulli


def _entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(p * p.log() + (1 - p) * (1 - p).log()).sum(1)


class DBM(nn.Module):
    hidden_type = "bernoulli"

    def __init__(self, n_visible: int = 784, hidden: tuple[int, int] = (200, 200)):
        super().__init__()
        h1, h2 = hidden
        self.n_visible, self.n_hidden = n_visible, h1
        self.W1 = nn.Parameter(torch.randn(n_visible, h1) * math.sqrt(2.0 / (n_visible + h1)))
        self.W2 = nn.Parameter(torch.randn(h1, h2) * math.sqrt(2.0 / (h1 + h2)))
        self.b = nn.Parameter(torch.zeros(n_visible))
        self.c1 = nn.Parameter(torch.zeros(h1))
        self.c2 = nn.Parameter(torch.zeros(h2))

    @staticmethod
    def flat(x):
        return x.reshape(x.shape[0], -1)

    def joint_energy(self, v, h1, h2) -> torch.Tensor:
        return (-(v @ self.b) - (h1 @ self.c1) - (h2 @ self.c2)
                - ((v @ self.W1) * h1).sum(1) - ((h1 @ self.W2) * h2).sum(1))

    def mean_field(self, v: torch.Tensor, iters: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.flat(v)
        mu1 = torch.sigmoid(2 * (v @ self.W1) + self.c1)  # bottom-up pass with doubled input (no h2 yet)
        mu2 = torch.sigmoid(mu1 @ self.W2 + self.c2)
        for _ in range(iters):
            mu1 = torch.sigmoid(v @ self.W1 + mu2 @ self.W2.T + self.c1)
            mu2 = torch.sigmoid(mu1 @ self.W2 + self.c2)
        return mu1, mu2

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        v = self.flat(v)
        mu1, mu2 = self.mean_field(v)
        return self.joint_energy(v, mu1, mu2) - _entropy(mu1) - _entropy(mu2)

    def forward(self, x):
        return self.free_energy(x)

    def energy(self, x):
        return self.free_energy(x)

    # --- Gibbs over the parity blocks (``beta`` < 1: at a higher temperature) ------------------
    def sample_h1(self, v, h2, generator=None, beta: float = 1.0):
        return sample_bernoulli(torch.sigmoid(beta * (v @ self.W1 + h2 @ self.W2.T + self.c1)), generator)

    def visible_mean_from(self, h1, beta: float = 1.0):
        return torch.sigmoid(beta * (h1 @ self.W1.T + self.b))

    def sample_h2(self, h1, generator=None, beta: float = 1.0):
        return sample_bernoulli(torch.sigmoid(beta * (h1 @ self.W2 + self.c2)), generator)

    def gibbs(self, v, h1, h2, generator=None, beta: float = 1.0):
        """One sweep: h1 | (v, h2), then v | h1 and h2 | h1 (``h1`` is resampled, so its input is unused).

        Returns (v, h1, h2, p(v | h1))."""
        h1 = self.sample_h1(v, h2, generator, beta)
        mean_v = self.visible_mean_from(h1, beta)
        v = sample_bernoulli(mean_v, generator)
        h2 = self.sample_h2(h1, generator, beta)
        return v, h1, h2, mean_v

    def as_rbm_over_h1(self) -> RBM:
        """The same distribution with v and h2 summed out: given h1 they are independent, so the
        marginal of h1 is an RBM whose "visible" units are h1 and whose "hidden" units are v and h2
        together. Its partition function is the DBM's, which is how AIS estimates log Z."""
        rbm = RBM(self.W1.shape[1], self.n_visible + self.W2.shape[1])
        with torch.no_grad():
            rbm.W.copy_(torch.cat([self.W1.T, self.W2], 1))
            rbm.b.copy_(self.c1)
            rbm.c.copy_(torch.cat([self.b, self.c2]))
        return rbm.to(self.W1.device)

    def weights_image(self):
        return self.W1.detach().T.float().cpu().numpy().copy()

    @torch.no_grad()
    def init_from_data(self, v):
        p = self.flat(v).float().mean(0).clamp(1e-3, 1 - 1e-3)
        self.b.copy_(torch.log(p) - torch.log1p(-p))

    @torch.no_grad()
    def load_pretrained(self, bottom: RBM, top: RBM) -> None:
        """Greedy layer-wise pre-training result: halve the shared middle layer's weights' double counting."""
        self.W1.copy_(bottom.W)
        self.b.copy_(bottom.b)
        self.c1.copy_(0.5 * (bottom.c + top.b))
        self.W2.copy_(top.W)
        self.c2.copy_(top.c)

