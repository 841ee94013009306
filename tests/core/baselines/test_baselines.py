"""The non-energy baselines (VAE, RealNVP) and the side-by-side comparison."""

import json
import math

import numpy as np
import pytest
import torch

from ebm_studio.cli import main
from ebm_studio.core.baselines.realnvp import RealNVP, bits_per_dim
from ebm_studio.core.baselines.vae import VAE
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.families import draw_from_noise, sample_chain
from ebm_studio.core.presets import preset_config
from ebm_studio.core.quality.comparison import ComparisonRow, format_table, training_record
from ebm_studio.core.session import Budget, TrainingSession


def _digits(n=64, seed=0):
    from ebm_studio.core.data import load_mnist

    return load_mnist("test").images[seed: seed + n]


def test_realnvp_log_likelihood_is_the_change_of_variables():
    """-log p(y) from the layers' log-determinants equals the one from the full Jacobian."""
    torch.manual_seed(0)
    flow = RealNVP(hidden=16, layers=4).double()
    for p in flow.parameters():  # leave the identity start: random couplings
        p.data.normal_(0, 0.05)
    y = RealNVP.bin_centres(_digits(1)).double()

    def to_latent(v):
        z, _ = flow._to_logit(v)
        for layer in flow.couplings:
            z, _ = layer(z)
        return z

    jac = torch.autograd.functional.jacobian(to_latent, y)[0, :, 0, :]
    z = to_latent(y)
    expected = -(-0.5 * (z.pow(2).sum() + 784 * math.log(2 * math.pi)) + torch.linalg.slogdet(jac)[1])
    got = flow.nll_of(y) - 784 * math.log(256.0)
    assert torch.allclose(got, expected.reshape(1), rtol=1e-9, atol=1e-6)


def test_realnvp_inverse_undoes_forward():
    torch.manual_seed(1)
    flow = RealNVP(hidden=32, layers=6)
    for p in flow.parameters():
        p.data.normal_(0, 0.05)
    z = torch.randn(5, 784)
    x = z
    for layer in flow.couplings:
        x, _ = layer(x)
    for layer in reversed(flow.couplings):
        x = layer.inverse(x)
    assert torch.allclose(x, z, atol=1e-5)
    s = flow.sample(7, torch.Generator().manual_seed(0))
    assert s.shape == (7, 1, 28, 28) and s.min() >= 0 and s.max() <= 1


def test_vae_importance_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    vae = VAE(hidden=32, latent=4)
    x = _digits(32)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([vae.neg_elbo(x, g) for _ in range(50)]).mean(0)
    iw = vae.importance_nll(x, k=50, generator=g)
    assert iw.shape == (32,)
    assert float(iw.mean()) < float(elbo.mean())  # a tighter (lower) bound on -log p(x)
    assert vae.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("family", ["vae", "flow"])
def test_baselines_learn_and_round_trip(family, tmp_path):
    """A few hundred steps on 256 digits lower the loss; the run saves, reloads and samples alike."""
    cfg = preset_config(family, RunConfig()).with_overrides(**{
        "data.limit": 256, "train.batch_size": 32, "train.device": "cpu", "model.hidden": [64]})
    session = TrainingSession(cfg, run_dir=tmp_path / family, autosave_minutes=0)
    losses = [r.loss for r in session.run(Budget(steps=300))]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-20:]) < 0.8 * np.mean(losses[:5])
    assert session.trainer.negatives.shape == (16, 1, 28, 28)
    session.save()
    run = load_run(tmp_path / family)
    model = session.trainer.export_model().eval()
    x = _digits(8)
    assert torch.allclose(run.model.energy(x), model.energy(x), atol=1e-4)
    steps = list(sample_chain(run.model, run.config, torch.rand(4, 1, 28, 28), generator=torch.Generator()))
    assert [s.step for s in steps] == [0, 1]
    assert steps[1].x.shape == (4, 1, 28, 28) and 0 <= float(steps[1].x.min()) and float(steps[1].x.max()) <= 1
    # lower temperature: samples gather nearer the prior's mode, so they differ less from each other
    hot = draw_from_noise(run.model, run.config.with_overrides(**{"sampler.temperature": 1.0}), 64, seed=1)
    cold = draw_from_noise(run.model, run.config.with_overrides(**{"sampler.temperature": 0.3}), 64, seed=1)
    spread = lambda s: float(torch.pdist(s.reshape(len(s), -1)).mean())  # noqa: E731
    assert spread(cold) < 0.8 * spread(hot)
    if family == "flow":  # better than the 8 bits a pixel of a uniform model, on what it was trained on
        with torch.no_grad():
            assert 0 < float(bits_per_dim(run.model.energy(session.data[:32])).mean()) < 8


def test_comparison_table_and_training_record(tmp_path):
    rows = [ComparisonRow("pretrained", "conv", 1234, None, None, 12.5, 99.04, 0.8921, 3.151, 7.5),
            ComparisonRow("vae (5 min)", "vae", 5, 100, 5.0, 0.01, 300.0, 0.7, 3.2, 4.4)]
    table = format_table(rows).splitlines()
    assert len(table) == 4 and table[0].startswith("| model |")
    assert "| pretrained | conv | 1,234 | – | – | 12.50 | 99.0 | 0.892 | 3.15 | 7.50 |" == table[2]
    assert training_record(None) == (None, None)
    (tmp_path / "metrics.csv").write_text("step,epoch,loss,grad_norm,e_data,e_samples,seconds,lr,event\n"
                                          "1,0.1,1,1,1,1,30,0.001,\n2,0.2,1,1,1,1,90,0.001,\n")
    assert training_record(tmp_path) == (2, 2.0)


def test_cli_trains_samples_and_compares_baselines(tmp_path, capsys):
    vae = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--out", str(vae), "--steps", "30", "--limit", "300",
                 "--hidden", "64", "--quiet"]) == 0
    assert load_run(vae).config.model.family == "vae"
    out = tmp_path / "s.npy"
    assert main(["sample", str(vae), "--n", "6", "--out", str(out), "--temperature", "0.7"]) == 0
    assert np.load(out).shape == (6, 28, 28)
    capsys.readouterr()
    # a drawing cannot start a VAE "chain"; --temperature means nothing to an energy model
    img = tmp_path / "d.png"
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    assert main(["sample", str(vae), "--n", "2", "--out", str(out), "--init", str(img)]) == 2
    assert "latent prior" in capsys.readouterr().err
    assert main(["sample", "pretrained", "--n", "2", "--out", str(out), "--temperature", "0.5"]) == 2
    assert "--temperature applies" in capsys.readouterr().err
    # compare: one trained run plus a cold-start training of the flow, same meter
    cmp = tmp_path / "cmp"
    assert main(["compare", str(vae), "--train-minutes", "0.02", "--families", "flow", "--out", str(cmp),
                 "--n", "40", "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["family"] for r in rows] == ["vae", "flow"]
    assert rows[0]["train_steps"] == 30 and rows[1]["train_steps"] >= 1
    for r in rows:
        assert r["fid"] > 0 and 0 < r["confidence"] <= 1 and 0 <= r["coverage_bits"] <= math.log2(10) + 1e-9
    assert (cmp / "flow" / "model.safetensors").exists() and len(list(cmp.glob("*.png"))) == 2
    assert main(["compare"]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert main(["compare", "--train-minutes", "1", "--families", "gan"]) == 2
    assert "unknown gan" in capsys.readouterr().err
