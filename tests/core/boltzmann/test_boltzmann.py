"""Boltzmann machines: exact checks on tiny models, AIS against enumeration, training end to end."""

import math

import pytest
import torch
from toy_energies import binary_states, random_rbm

from ebm_studio.core.boltzmann.ais import ais_log_partition, average_log_likelihood
from ebm_studio.core.boltzmann.rbm import exact_log_partition
from ebm_studio.core.families import make_trainer, sample_chain
from ebm_studio.core.presets import preset_config

tiny_rbm = random_rbm
all_states = binary_states


def brute_force_joint(r):
    v, h = all_states(r.n_visible), all_states(r.n_hidden)
    e = -(v @ r.b)[:, None] - (h @ r.c)[None, :] - (v @ r.W @ h.T)
    logp = -e - torch.logsumexp(-e.flatten(), 0)
    return v, h, logp.exp()


def test_free_energy_matches_enumeration():
    r = tiny_rbm()
    v, h, p = brute_force_joint(r)
    with torch.no_grad():
        log_z = exact_log_partition(r)
        marg = torch.exp(-r.free_energy(v) - log_z)
    assert torch.allclose(marg, p.sum(1), atol=1e-6)
    assert marg.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_gibbs_conditionals_match_brute_force():
    r = tiny_rbm()
    v, h, p = brute_force_joint(r)
    with torch.no_grad():
        p_h_given_v = (p / p.sum(1, keepdim=True)) @ h  # E[h | v] from the joint table
        assert torch.allclose(r.hidden_mean(v), p_h_given_v, atol=1e-6)
        p_v_given_h = ((p / p.sum(0, keepdim=True)).T @ v)
        assert torch.allclose(r.visible_mean(h), p_v_given_h, atol=1e-6)


def test_gibbs_chain_samples_the_model_distribution():
    from ebm_studio.core.boltzmann.gibbs import gibbs_chain

    r = tiny_rbm(scale=0.7)
    v, h, p = brute_force_joint(r)
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(len(v))
    idx = (2 ** torch.arange(r.n_visible - 1, -1, -1)).float()
    x = torch.rand(2000, r.n_visible, generator=g)
    state = None
    for state in gibbs_chain(r, x.view(2000, r.n_visible), steps=60, generator=g):
        pass
    # the chain yields mean fields; draw the binary sample they define
    sample = torch.bernoulli(state.x.view(2000, -1), generator=g)
    counts += torch.bincount((sample @ idx).long(), minlength=len(v)).float()
    empirical = counts / counts.sum()
    tv = 0.5 * (empirical - p.sum(1)).abs().sum().item()
    assert tv < 0.06, tv


def test_ais_matches_exact_log_z_within_error_bar():
    r = tiny_rbm(nv=20, nh=10, scale=0.5)
    base = torch.zeros(20)
    exact = exact_log_partition(r)
    res = ais_log_partition(r, base, n_chains=200, n_betas=1000, runs=5, seed=0)
    assert abs(res.log_z - exact) < max(4 * res.log_z_stderr, 0.05), (res, exact)
    # a badly annealed run is far less exact: the estimate is a real computation, not the answer
    crude = ais_log_partition(r, base, n_chains=5, n_betas=3, runs=3, seed=0)
    assert abs(crude.log_z - exact) > abs(res.log_z - exact)


def test_gaussian_hidden_ais_matches_closed_form():
    # Gaussian hidden units: log Z = logsumexp_v [b.v + ||v W||^2 / 2] + (n_h/2) log 2 pi, enumerable in v
    r = tiny_rbm(nv=8, nh=3, scale=0.3, hidden="gaussian")
    v = all_states(8)
    with torch.no_grad():
        exact = float(torch.logsumexp((-r.free_energy(v)).double(), 0))
        res = ais_log_partition(r, torch.zeros(8), n_chains=200, n_betas=500, runs=4, seed=1)
    assert abs(res.log_z - exact) < max(4 * res.log_z_stderr, 0.05)


def test_pcd_increases_exact_log_likelihood_of_a_tiny_dataset():
    from ebm_studio.core.boltzmann.trainer import BoltzmannTrainer

    torch.manual_seed(0)
    protos = torch.tensor([[1.0] * 392 + [0.0] * 392, [0.0] * 392 + [1.0] * 392])
    flips = torch.rand(64, 784) < 0.05
    data = torch.where(flips, 1 - protos.repeat(32, 1), protos.repeat(32, 1)).view(64, 1, 28, 28)
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [8], "train.batch_size": 16, "train.lr": 2e-3,
                                                 "train.lr_decay": 0.0, "sampler.steps": 5})
    tr = BoltzmannTrainer(cfg, data)
    v = data.view(64, -1)
    before = average_log_likelihood(tr.model, v, exact_log_partition(tr.model))
    list(tr.steps(150))
    after = average_log_likelihood(tr.model, v, exact_log_partition(tr.model))
    assert after > before + 50, (before, after)


@pytest.mark.parametrize("family", ["rbm", "hopfield", "sparse-rbm", "dbm"])
def test_family_trains_samples_and_roundtrips(family, tmp_path, mnist_small):
    from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run

    cfg = preset_config(family).with_overrides(**{"model.hidden": [16, 8] if family == "dbm" else [16],
                                                  "train.pretrain_epochs": 0.1, "train.batch_size": 32})
    tr = make_trainer(cfg, mnist_small.images)
    records = list(tr.steps(40))
    assert all(math.isfinite(r.loss) for r in records)
    assert tr.negatives.shape[1:] == (1, 28, 28)
    assert tr.model.weights_image().shape == (16, 784)
    chain = list(sample_chain(tr.model, tr.cfg, torch.rand(3, 1, 28, 28), steps=4))
    assert len(chain) == 5 and chain[-1].x.shape == (3, 1, 28, 28)
    save_run(tmp_path / family, tr.model, tr.cfg, trainer=tr)
    run = load_run(tmp_path / family, with_trainer_state=True)
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, run.model.state_dict()[k])
    again = resume_trainer(run, mnist_small.images)
    assert again.step == 40
    next(again.steps(1))


def test_gibbs_inpainting_keeps_clamped_pixels():
    r = tiny_rbm(nv=784, nh=16, scale=0.05)
    x0 = torch.rand(2, 1, 28, 28)
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., :14, :] = 1
    last = None
    for last in sample_chain(r, preset_config("rbm"), x0, steps=5, mask=mask):
        pass
    assert torch.equal(last.x[..., :14, :], x0[..., :14, :])


def test_cli_trains_an_rbm(tmp_path):
    from ebm_studio.cli import main

    run = tmp_path / "rbm"
    assert main(["train", "--out", str(run), "--model", "rbm", "--steps", "5", "--limit", "200", "--quiet"]) == 0
    assert 'family = "rbm"' in (run / "config.toml").read_text()
    assert main(["sample", str(run), "--n", "4", "--steps", "3", "--out", str(tmp_path / "s.npy")]) == 0


def test_cli_evaluate_reports_ais_log_likelihood(tmp_path, capsys):
    import json

    from ebm_studio.cli import main

    run = tmp_path / "rbm"
    assert main(["train", "--out", str(run), "--model", "rbm", "--steps", "20", "--limit", "500", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "20", "--steps", "5", "--ais-betas", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert -784 * math.log(2) * 1.5 < out["test_log_likelihood_nats"] < 0
    assert out["ais_log_z_stderr"] >= 0 and out["n"] == 20
    # reverse AIS beside it, with its error bar and the side each errs on
    assert out["reverse_ais_log_z_stderr"] >= 0
    assert out["test_log_likelihood_reverse_ais_nats"] == pytest.approx(
        out["test_log_likelihood_nats"] + out["ais_log_z"] - out["reverse_ais_log_z"], abs=0.01)
    assert "optimistic" in out["likelihood_sides"]["forward"] and "conservative" in out["likelihood_sides"]["reverse"]
    assert "exact_log_z" not in out  # 200 hidden units: too many to enumerate
    from ebm_studio.cli.evaluate import likelihood_summary

    text = "\n".join(likelihood_summary(out))  # what the text report prints
    assert "forward AIS" in text and "reverse AIS" in text and "conservative" in text
    assert f"{out['test_log_likelihood_nats']:.2f} ± {out['ais_log_z_stderr']:.2f}" in text
