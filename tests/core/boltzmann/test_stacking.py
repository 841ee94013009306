"""A DBM stacked on a trained RBM starts as that RBM: the same log Z (up to the silent top
layer's 2**h2), the same likelihood of every image, and `train --model dbm --init-from RBM` goes
straight to joint training from it."""

import math

import pytest
import torch
from toy_energies import binary_states, random_rbm

from ebm_studio.cli import main
from ebm_studio.core.boltzmann.rbm import exact_log_partition
from ebm_studio.core.boltzmann.stacking import dbm_on_rbm, stacked_config, stacks_on
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import ConfigError


def _config(family, hidden, seed=0):
    cfg = RunConfig()
    cfg.model.family, cfg.model.hidden, cfg.train.seed = family, hidden, seed
    return cfg


def test_a_stacked_dbm_has_the_rbm_likelihood_and_bound():
    rbm = random_rbm(10, 8, seed=3, scale=0.8)
    cfg = stacked_config(_config("rbm", [8]), _config("dbm", [8, 6]))
    dbm = dbm_on_rbm(rbm, cfg)
    rbm, dbm, v = rbm.double(), dbm.double(), binary_states(10).double()
    with torch.no_grad():
        log_z_rbm = exact_log_partition(rbm)
        log_z_dbm = exact_log_partition(dbm.as_rbm_over_h1())  # h1 (8 units) enumerated
        ll_rbm = -rbm.free_energy(v) - log_z_rbm
        bound_dbm = -dbm.free_energy(v) - log_z_dbm  # the mean-field lower bound
    assert log_z_dbm == pytest.approx(log_z_rbm + 6 * math.log(2), abs=1e-3)
    assert (bound_dbm - ll_rbm).abs().max() < 5e-3  # the silent layer's weights (1e-3) move it a little
    assert (ll_rbm.max() - ll_rbm.min()) > 5  # ...against images whose likelihoods differ by nats
    assert dbm.W2.abs().max() < 0.01 and dbm.W2.std() > 0  # silent, but not all alike


def test_stacked_config_takes_the_rbm_layer_and_skips_pre_training():
    rbm, dbm = _config("rbm", [500]), _config("dbm", [500, 1000])
    dbm.train.pretrain_epochs = 3.0
    assert stacks_on(rbm, dbm) and not stacks_on(dbm, dbm) and not stacks_on(rbm, rbm)
    out = stacked_config(rbm, dbm)
    assert out.model.hidden == [500, 1000] and out.train.pretrain_epochs == 0.0
    assert stacked_config(rbm, _config("dbm", [1000])).model.hidden == [500, 1000]
    with pytest.raises(ConfigError, match="--hidden 500,1000"):
        stacked_config(rbm, _config("dbm", [200, 1000]))


def test_train_a_dbm_on_an_rbm_run(tmp_path, capsys):
    base, deep = tmp_path / "rbm", tmp_path / "dbm"
    tiny = ["--limit", "64", "--batch-size", "16", "--quiet", "--no-tensorboard"]
    assert main(["train", "--out", str(base), "--model", "rbm", "--hidden", "12", "--steps", "5", *tiny]) == 0
    assert main(["train", "--out", str(deep), "--model", "dbm", "--hidden", "12,7", "--init-from", str(base),
                 "--steps", "3", "--lr", "1e-4", *tiny]) == 0
    src, run = load_run(base), load_run(deep)
    assert run.config.model.family == "dbm" and run.config.model.hidden == [12, 7]
    assert run.config.train.pretrain_epochs == 0.0
    moved = (run.model.W1 - src.model.W.float()).abs().max()
    assert 0 < moved < 0.05, "joint training starts from the RBM's weights and moves them"
    metrics = (deep / "metrics.csv").read_text()
    assert "pre-training" not in metrics
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "bad"), "--model", "dbm", "--hidden", "30,7", "--init-from",
                 str(base), "--steps", "1", *tiny]) != 0
    assert "--hidden 12,7" in capsys.readouterr().err
