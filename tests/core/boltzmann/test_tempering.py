"""Parallel tempering: every replica samples its own tempered distribution exactly (the swaps keep
the product invariant), and the trainer's replicas are validated, saved and restored."""

import itertools

import pytest
import torch
from torch.nn import functional as F

from ebm_studio.core.boltzmann.rbm import RBM
from ebm_studio.core.boltzmann.tempering import ParallelTempering
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config


def test_each_replica_samples_its_tempered_distribution():
    torch.manual_seed(0)
    r = RBM(6, 4)
    with torch.no_grad():
        r.W.normal_(0, 1.5)  # strong weights: separated modes, where swaps matter
        r.b.normal_(0, 0.5)
        r.c.normal_(0, 0.5)
    base = torch.randn(6) * 0.5
    g = torch.Generator().manual_seed(1)
    pt = ParallelTempering(3, 0.4, 2000, base, g)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))
    idx = 2 ** torch.arange(5, -1, -1).float()
    counts = torch.zeros(3, 64)
    for step in range(80):
        pt.step(r, g)
        if step >= 20:
            for k in range(3):
                counts[k] += torch.bincount((pt.chains[k * 2000:(k + 1) * 2000] @ idx).long(), minlength=64)
    assert float(pt.swaps.min()) > 0  # swaps happen
    with torch.no_grad():
        for k, beta in enumerate(pt.betas.tolist()):
            log_p = beta * (v @ r.b) + (1 - beta) * (v @ base) + F.softplus(beta * (v @ r.W + r.c)).sum(1)
            exact = torch.softmax(log_p, 0)
            tv = 0.5 * float((counts[k] / counts[k].sum() - exact).abs().sum())
            assert tv < 0.03, (k, beta, tv)


def test_wrong_swaps_would_be_caught():
    # the same check with swaps always accepted (no Metropolis test) is far off: the test has teeth
    torch.manual_seed(0)
    r = RBM(6, 4)
    with torch.no_grad():
        r.W.normal_(0, 1.5)
    g = torch.Generator().manual_seed(1)
    pt = ParallelTempering(2, 0.2, 4000, torch.zeros(6), g)
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))
    idx = 2 ** torch.arange(5, -1, -1).float()
    counts = torch.zeros(64)
    for step in range(40):
        pt.step(r, g)
        pt.chains = pt.chains.view(2, 4000, 6).flip(0).reshape(8000, 6)  # an unconditional swap
        counts += torch.bincount((pt.chains[:4000] @ idx).long(), minlength=64)
    with torch.no_grad():
        exact = torch.softmax(-r.free_energy(v), 0)
    assert 0.5 * float((counts / counts.sum() - exact).abs().sum()) > 0.05


def test_trainer_tempering_saves_and_resumes(tmp_path, mnist_small):
    from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run

    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [16], "train.batch_size": 32, "train.tempering": 3})
    tr = make_trainer(cfg, mnist_small.images)
    list(tr.steps(10))
    assert tr.tempering.chains.shape == (3 * 32, 784) and torch.equal(tr.chains, tr.tempering.chains[:32])
    save_run(tmp_path / "pt", tr.model, tr.cfg, trainer=tr)
    again = resume_trainer(load_run(tmp_path / "pt", with_trainer_state=True), mnist_small.images)
    assert torch.equal(again.tempering.chains, tr.tempering.chains)
    assert next(again.steps(1)).loss == pytest.approx(next(tr.steps(1)).loss, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("overrides", [{"model.family": "hopfield"}, {"train.negatives": "data"}])
def test_tempering_is_refused_clearly_where_it_does_not_apply(overrides, mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [8], "train.tempering": 4, **overrides})
    with pytest.raises(ConfigError, match="train.tempering needs a Bernoulli RBM"):
        make_trainer(cfg, mnist_small.images)
