"""Boltzmann machines: the closed-form trainer, initialisation, schedules, DBM log Z, analysis."""

import itertools
import math

import pytest
import torch

from ebm_studio.core.boltzmann.ais import ais_log_partition, log_likelihood_figures
from ebm_studio.core.boltzmann.dbm import DBM
from ebm_studio.core.boltzmann.rbm import RBM, sample_bernoulli
from ebm_studio.core.boltzmann.trainer import BoltzmannTrainer, binarize
from ebm_studio.core.families import make_trainer, sample_chain
from ebm_studio.core.presets import preset_config


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


@pytest.mark.parametrize("hidden", ["bernoulli", "gaussian"])
def test_closed_form_gradient_equals_autograd(hidden):
    torch.manual_seed(0)
    r = RBM(30, 7, hidden=hidden)
    with torch.no_grad():
        r.b.normal_()
        if hidden == "bernoulli":
            r.c.normal_()
    v_data, v_model = (torch.rand(12, 30) < 0.4).float(), (torch.rand(9, 30) < 0.6).float()
    (g_w, g_b, g_c), f_d, f_m = r.contrastive_gradient(v_data, v_model)
    loss = r.free_energy(v_data).mean() - r.free_energy(v_model).mean()
    loss.backward()
    assert torch.allclose(g_w, r.W.grad, atol=1e-5) and torch.allclose(g_b, r.b.grad, atol=1e-5)
    if hidden == "bernoulli":
        assert torch.allclose(g_c, r.c.grad, atol=1e-5)
    assert f_d - f_m == pytest.approx(float(loss.detach()), abs=1e-4)


def test_sample_bernoulli_has_the_right_rates():
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(40000, 1)
    s = sample_bernoulli(p, g)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(s.mean(0), p[0], atol=0.01)
    assert s[:, 0].sum() == 0 and s[:, 4].sum() == 40000


def test_pca_init_uses_the_leading_principal_components(mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [8], "train.init": "pca"})
    tr = BoltzmannTrainer(cfg, mnist_small.images)
    x = binarize(mnist_small.images, "threshold")
    x = x - x.mean(0)
    top = torch.linalg.svd(x, full_matrices=False).Vh[0]
    w = tr.model.W.detach()
    cos = (w[:, 0] @ top).abs() / w[:, 0].norm()
    assert cos > 0.999
    norms = w.norm(dim=0)
    assert bool((norms[:-1] >= norms[1:] - 1e-6).all())  # scaled by each component's spread
    glorot = BoltzmannTrainer(cfg.with_overrides(**{"train.init": "glorot"}), mnist_small.images).model.W.detach()
    assert (glorot[:, 0] @ top).abs() / glorot[:, 0].norm() < 0.5


def test_pca_init_refuses_more_components_than_images():
    r = RBM(784, 50)
    with pytest.raises(ValueError, match="PCA"):
        r.init_pca(torch.rand(10, 784))


def test_threshold_batches_equal_binarised_images(mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [4], "train.batch_size": 16})
    cached = BoltzmannTrainer(cfg, mnist_small.images)
    grey = BoltzmannTrainer(cfg.with_overrides(**{"train.binarize": "stochastic"}), mnist_small.images)
    for _ in range(3):
        batch = cached._batch()
        assert batch.shape == (16, 784)
        assert torch.equal(batch, binarize(grey._batch(), "threshold"))
        cached.step += 1
        grey.step += 1


def test_lr_decays_as_a_power_law_and_survives_a_cool_down(mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [4], "train.batch_size": 50, "train.lr": 1e-2,
                                                 "train.lr_decay": 1.0})
    tr = BoltzmannTrainer(cfg, mnist_small.images)
    per_epoch = tr.steps_per_epoch
    records = list(tr.steps(2 * per_epoch + 1))
    assert records[0].lr == pytest.approx(1e-2)
    assert records[per_epoch].lr == pytest.approx(1e-2 / 2)
    assert records[2 * per_epoch].lr == pytest.approx(1e-2 / 3)
    tr.set_lr(1e-3)  # what the divergence guard does
    assert next(tr.steps(1)).lr == pytest.approx(1e-3, rel=0.05)


def test_l1_penalty_makes_weights_sparser(mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [16], "train.batch_size": 50})
    plain = BoltzmannTrainer(cfg, mnist_small.images)
    sparse = BoltzmannTrainer(cfg.with_overrides(**{"train.l1": 1e-3}), mnist_small.images)
    list(plain.steps(60))
    list(sparse.steps(60))
    assert sparse.model.W.abs().mean() < 0.7 * plain.model.W.abs().mean()


def exact_dbm_log_z(d: DBM) -> float:
    v, h1, h2 = states(d.n_visible), states(d.W1.shape[1]), states(d.W2.shape[1])
    with torch.no_grad():
        e = (-(v @ d.b)[:, None, None] - (h1 @ d.c1)[None, :, None] - (h2 @ d.c2)[None, None, :]
             - (v @ d.W1 @ h1.T)[:, :, None] - (h1 @ d.W2 @ h2.T)[None, :, :])
    return float(torch.logsumexp((-e).double().flatten(), 0))


def tiny_dbm(seed=0):
    torch.manual_seed(seed)
    d = DBM(8, (5, 4))
    with torch.no_grad():
        for p in d.parameters():
            p.normal_(0, 0.7)
    return d


def test_dbm_as_rbm_over_h1_has_the_dbm_partition_function():
    from ebm_studio.core.boltzmann.rbm import exact_log_partition

    d = tiny_dbm()
    rbm = d.as_rbm_over_h1()  # 5 "visible" (h1) and 12 "hidden" (v, h2) units: enumerable
    assert exact_log_partition(rbm) == pytest.approx(exact_dbm_log_z(d), abs=1e-5)
    res = ais_log_partition(rbm, torch.zeros(5), n_chains=200, n_betas=500, runs=4, seed=0)
    assert abs(res.log_z - exact_dbm_log_z(d)) < max(4 * res.log_z_stderr, 0.05)


def test_dbm_mean_field_gives_a_lower_bound_on_log_likelihood():
    d = tiny_dbm(1)
    v = states(8)
    log_z = exact_dbm_log_z(d)
    h1, h2 = states(5), states(4)
    with torch.no_grad():
        e = (-(v @ d.b)[:, None, None] - (h1 @ d.c1)[None, :, None] - (h2 @ d.c2)[None, None, :]
             - (v @ d.W1 @ h1.T)[:, :, None] - (h1 @ d.W2 @ h2.T)[None, :, :])
        exact = torch.logsumexp(-e.double().flatten(1), 1) - log_z
        bound = -d.free_energy(v).double() - log_z
    assert bool((bound <= exact + 1e-5).all())
    assert float((exact - bound).mean()) < 1.0  # and not a vacuous one
    assert float(torch.logsumexp(exact, 0)) == pytest.approx(0.0, abs=1e-6)


def test_log_likelihood_figures_for_rbm_and_dbm():
    torch.manual_seed(0)
    v = (torch.rand(50, 784) < 0.1).float()
    rbm_figs = log_likelihood_figures(RBM(784, 8), v, v, n_chains=20, n_betas=50, runs=2)
    assert "test_log_likelihood_nats" in rbm_figs and rbm_figs["test_log_likelihood_nats"] < 0
    dbm_figs = log_likelihood_figures(DBM(784, (8, 4)), v, v, n_chains=20, n_betas=50, runs=2)
    assert dbm_figs["test_log_likelihood_lower_bound_nats"] < 0


def test_annealed_gibbs_starts_hot():
    torch.manual_seed(0)
    r = RBM(784, 32)
    with torch.no_grad():
        r.W.normal_(0, 0.5)
        r.b.normal_(0, 2)
    cfg = preset_config("rbm")
    x0 = torch.rand(64, 1, 28, 28)
    cold = list(sample_chain(r, cfg, x0, steps=100))[1].x
    hot = list(sample_chain(r, cfg.with_overrides(**{"sampler.beta0": 0.0}), x0, steps=100))[1].x
    assert (hot - 0.5).abs().mean() < 0.1 < (cold - 0.5).abs().mean()


@pytest.mark.parametrize("family", ["rbm", "dbm"])
def test_reconstruction_and_denoising_improve_with_training(family, mnist_small):
    from ebm_studio.core.boltzmann.analysis import flip_pixels, reconstruction_figures

    cfg = preset_config(family).with_overrides(**{"model.hidden": [64, 32] if family == "dbm" else [64],
                                                  "train.batch_size": 32, "train.pretrain_epochs": 1.0,
                                                  "train.lr": 1e-2, "train.lr_decay": 0.0})
    tr = make_trainer(cfg, mnist_small.images)
    v = binarize(mnist_small.images, "threshold")
    before = reconstruction_figures(tr.model, v)
    assert before["reconstruction_pixel_error"] > 0.1  # an untrained model reconstructs the mean image
    list(tr.steps(6 * tr.steps_per_epoch))
    after = reconstruction_figures(tr.model, v)
    assert after["reconstruction_pixel_error"] < 0.85 * before["reconstruction_pixel_error"]
    assert after["denoised_15pct_pixel_error"] < 0.8 * after["flipped_15pct_pixel_error"]
    flipped = flip_pixels(v, 0.15, torch.Generator().manual_seed(0))
    assert abs(float((flipped != v).float().mean()) - 0.15) < 0.01


def test_dbm_resumes_mid_pretraining(tmp_path, mnist_small):
    from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run

    cfg = preset_config("dbm").with_overrides(**{"model.hidden": [16, 8], "train.batch_size": 32,
                                                 "train.pretrain_epochs": 1.0})
    tr = make_trainer(cfg, mnist_small.images)
    records = list(tr.steps(tr.steps_per_epoch + 2))  # into layer 2's pre-training
    assert records[0].event and "layer 1" in records[0].event
    assert any(r.event and "layer 2" in r.event for r in records)
    save_run(tmp_path / "dbm", tr.model, tr.cfg, trainer=tr)
    again = resume_trainer(load_run(tmp_path / "dbm", with_trainer_state=True), mnist_small.images)
    for a, b in zip(tr._pretrain, again._pretrain):
        assert torch.equal(a.W, b.W)
    rest = list(again.steps(2 * again.steps_per_epoch - again.step + 1))
    assert any(r.event and "joint" in r.event for r in rest)
    assert again._pretrain == [] and again.phase == "joint training"
    assert all(math.isfinite(r.loss) for r in rest)


def test_cli_evaluate_dbm_reports_a_lower_bound(tmp_path, capsys):
    import json

    from ebm_studio.cli import main

    run = tmp_path / "dbm"
    assert main(["train", "--out", str(run), "--model", "dbm", "--hidden", "16,8", "--steps", "6",
                 "--limit", "200", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "10", "--steps", "3", "--ais-betas", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test_log_likelihood_lower_bound_nats"] < 0 and out["test_binarization"] == "threshold"
    # 16 units in h1: the DBM's log Z is also exact (h1 enumerated), and both AIS bounds are reported
    assert out["test_log_likelihood_lower_bound_exact_nats"] < 0
    assert out["test_log_likelihood_lower_bound_reverse_ais_nats"] < 0 and "exact" in out["likelihood_sides"]
    assert 0 <= out["denoised_15pct_pixel_error"] <= 1
