"""A deep Boltzmann machine started from a trained Bernoulli RBM.

Greedy layer-wise pre-training (Salakhutdinov & Hinton 2009) spends its first phase training an
RBM on the data. When a good RBM already exists (the shipped RBM-500 took 80 CPU-minutes), the
DBM can start from it instead: its first layer *is* the RBM, and its second layer starts silent
(weights near zero, biases zero). With a silent top layer the DBM's distribution over images is
the RBM's, and the mean-field posterior over the first layer is exact, so the DBM's variational
lower bound starts at the RBM's own log-likelihood; joint training then climbs from there
instead of from a random start. ``ebm-studio train --model dbm --init-from RBM_RUN`` uses it.
"""

from __future__ import annotations

import torch

from ..config import RunConfig
from ..errors import ConfigError
from .dbm import DBM
from .rbm import RBM

#: the top layer's starting weights: small enough to leave the RBM's distribution as it was,
#: random so that its units do not start (and stay) identical
TOP_INIT_STD = 1e-3


def stacks_on(source: RunConfig, target: RunConfig) -> bool:
    """True when a run of ``target``'s family starts its first layer from a ``source`` model."""
    return target.model.family == "dbm" and source.model.family in ("rbm", "sparse-rbm")


def stacked_config(source: RunConfig, target: RunConfig) -> RunConfig:
    """``target`` with the first layer sized as the RBM's hidden layer and greedy pre-training off
    (the RBM is the pre-trained first layer). The top layer keeps ``target``'s second size."""
    rbm_hidden = source.model.hidden[0]
    hidden = list(target.model.hidden)
    if len(hidden) != 2:
        hidden = [rbm_hidden, hidden[-1]]
    if hidden[0] != rbm_hidden:
        raise ConfigError(f"a DBM stacked on an RBM takes the RBM's hidden layer as its first layer: "
                          f"--hidden {rbm_hidden},{hidden[1]} (not {hidden[0]},{hidden[1]})")
    raw = target.to_dict()
    raw["model"]["hidden"] = [rbm_hidden, hidden[1]]
    raw["train"]["pretrain_epochs"] = 0.0
    return RunConfig.from_dict(raw)


@torch.no_grad()
def dbm_on_rbm(rbm: RBM, cfg: RunConfig) -> DBM:
    """A DBM of ``cfg``'s sizes whose first layer is ``rbm``'s weights and biases and whose top
    layer is silent (:data:`TOP_INIT_STD`, seeded by ``cfg.train.seed``)."""
    if not isinstance(rbm, RBM) or rbm.hidden_type != "bernoulli":
        raise ConfigError("a DBM can be stacked only on a Bernoulli RBM (families rbm, sparse-rbm)")
    h1, h2 = cfg.model.hidden
    dbm = DBM(rbm.n_visible, (h1, h2))
    generator = torch.Generator().manual_seed(cfg.train.seed)
    dbm.W1.copy_(rbm.W.detach().float().cpu())
    dbm.b.copy_(rbm.b.detach().float().cpu())
    dbm.c1.copy_(rbm.c.detach().float().cpu())
    dbm.W2.copy_(torch.randn(dbm.W2.shape, generator=generator) * TOP_INIT_STD)
    dbm.c2.zero_()
    return dbm
