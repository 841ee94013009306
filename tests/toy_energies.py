"""Hand-made energies the tests share (importable because pytest puts ``tests/`` on the path for
its conftest.py): small, exact, and with a known lowest-energy image."""

import torch
from torch import nn


class TemplateEnergy(nn.Module):
    """Squared distance to a vertical bar: the bar itself is the single lowest-energy image."""

    def __init__(self):
        super().__init__()
        t = torch.zeros(1, 1, 28, 28)
        t[..., 6:22, 12:16] = 1.0
        self.register_buffer("template", t)

    def forward(self, x):
        return ((x - self.template) ** 2).flatten(1).sum(1)


class GaussianEnergy(nn.Module):
    """g(x, sigma) = sigma * |x - mu|^2 / (2 (s0^2 + sigma^2)): the exact energy of N(mu, s0^2) blurred by sigma,
    in the noise-conditional module's sigma * E convention. ``learn_mu`` makes mu a parameter."""

    uses_sigma = True

    def __init__(self, mu: float, s0: float, learn_mu: bool = False):
        super().__init__()
        self.s0 = s0
        if learn_mu:
            self.mu = nn.Parameter(torch.tensor(float(mu)))
        else:
            self.mu = mu

    def forward(self, x, sigma=None):
        sig = torch.as_tensor(0.02 if sigma is None else sigma, dtype=x.dtype).reshape(-1)
        return sig * (x - self.mu).pow(2).flatten(1).sum(1) / (2 * (self.s0**2 + sig**2))


def random_rbm(nv=6, nh=4, seed=0, scale=1.0, hidden="bernoulli"):
    """A small RBM with random weights (scale) and biases, for exact checks by enumeration."""
    from ebm_studio.core.boltzmann.rbm import RBM

    torch.manual_seed(seed)
    r = RBM(nv, nh, hidden=hidden)
    with torch.no_grad():
        r.W.normal_(0, scale)
        r.b.normal_(0, 0.5)
        if hidden == "bernoulli":
            r.c.normal_(0, 0.5)
    return r


def binary_states(n):
    """All 2**n binary vectors of length n, (2**n, n)."""
    import itertools

    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))
