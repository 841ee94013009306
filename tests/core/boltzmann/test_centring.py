"""Centred RBM training: the centred model is the ordinary RBM it is stored as, the update is the
optimiser's step on the centred parameters, and the offsets are validated, saved and restored."""

import pytest
import torch
from torch.nn import functional as F

from ebm_studio.core.boltzmann.centring import Centring
from ebm_studio.core.boltzmann.rbm import RBM
from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config


def centred_free_energy(v, w, b_c, c_c, mu, lam):
    """F of E(v, h) = -(v - mu)^T W (h - lambda) - b~.(v - mu) - c~.(h - lambda), h summed out."""
    a = (v - mu) @ w + c_c
    return -(v - mu) @ b_c + a @ lam - F.softplus(a).sum(1)


def random_setup(seed=0, nv=30, nh=7):
    torch.manual_seed(seed)
    r = RBM(nv, nh)
    with torch.no_grad():
        r.b.normal_()
        r.c.normal_()
    mu, lam = torch.rand(nv), torch.rand(nh)
    return r, mu, lam


def test_centred_energy_is_the_ordinary_rbm_up_to_a_constant():
    r, mu, lam = random_setup()
    v = (torch.rand(50, 30) < 0.4).float()
    with torch.no_grad():
        b_c, c_c = r.b + r.W @ lam, r.c + r.W.T @ mu  # b~ = b + W lambda, c~ = c + W^T mu
        gap = centred_free_energy(v, r.W, b_c, c_c, mu, lam) - r.free_energy(v)
    assert gap.std() < 1e-4 and gap.abs().max() > 1e-3  # a constant, cancelled by Z (and not zero)


def test_centred_gradient_equals_autograd_of_the_centred_free_energy():
    r, mu, lam = random_setup(1)
    v_data, v_model = (torch.rand(12, 30) < 0.4).float(), (torch.rand(9, 30) < 0.6).float()
    c = Centring(30, 7, 0.01)
    c.mu, c.lam = mu.clone(), lam.clone()
    (g_w, g_b, g_c), _, _ = r.contrastive_gradient(v_data, v_model)
    plain_w = g_w.clone()
    c.centre(g_w, g_b, g_c)
    w = r.W.detach().clone().requires_grad_()
    b_c = (r.b + r.W @ lam).detach().requires_grad_()
    c_c = (r.c + r.W.T @ mu).detach().requires_grad_()
    loss = (centred_free_energy(v_data, w, b_c, c_c, mu, lam).mean()
            - centred_free_energy(v_model, w, b_c, c_c, mu, lam).mean())
    loss.backward()
    assert torch.allclose(g_w, w.grad, atol=1e-5) and not torch.allclose(g_w, plain_w, atol=1e-3)
    assert torch.allclose(g_b, b_c.grad, atol=1e-5) and torch.allclose(g_c, c_c.grad, atol=1e-5)


def test_trainer_step_is_adam_on_the_centred_parameters(mnist_small):
    cfg = preset_config("rbm-centred").with_overrides(**{"model.hidden": [8], "train.batch_size": 32})
    tr = make_trainer(cfg, mnist_small.images)
    r, cen = tr.model, tr.centring
    v_data = (mnist_small.images[:32].reshape(32, -1) > 0.5).float()
    mu, lam = cen.mu.clone(), cen.lam.clone()
    w = r.W.detach().clone().requires_grad_()
    b_c = (r.b + r.W @ lam).detach().requires_grad_()
    c_c = (r.c + r.W.T @ mu).detach().requires_grad_()
    opt = torch.optim.Adam([w, b_c, c_c], lr=cfg.train.lr, betas=(cfg.train.beta1, cfg.train.beta2))
    tr._rbm_step(r, v_data, tr.optimizer, persistent_owner=True)
    v_model = tr.chains  # the fantasy particles the step used
    loss = (centred_free_energy(v_data, w, b_c, c_c, mu, lam).mean()
            - centred_free_energy(v_model, w, b_c, c_c, mu, lam).mean())
    loss.backward()
    opt.step()
    with torch.no_grad():
        # 1e-5 is 0.2 % of a first Adam step (lr 0.005). Adam divides each gradient by its own size, so
        # a weight whose gradient is ~1e-7 (float32 cancellation between the two phases is ~1e-8,
        # as large as Adam's eps) moves by an amount that rounding decides to ~1e-6 (seen on an AMX Xeon)
        assert torch.allclose(r.W, w, atol=1e-5)
        assert torch.allclose(r.b, b_c - w @ lam, atol=1e-5)
        assert torch.allclose(r.c, c_c - w.T @ mu, atol=1e-5)
    # and the offsets moved 1 % of the way to the batch's means
    assert torch.allclose(cen.mu, 0.99 * mu + 0.01 * v_data.mean(0), atol=1e-6)


def test_offsets_start_at_the_data_means_and_survive_save_and_resume(tmp_path, mnist_small):
    from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run

    cfg = preset_config("rbm-centred").with_overrides(**{"model.hidden": [16], "train.batch_size": 32})
    tr = make_trainer(cfg, mnist_small.images)
    v = (mnist_small.images.reshape(-1, 784) > 0.5).float()
    assert torch.allclose(tr.centring.mu, v.mean(0), atol=1e-6)
    start = tr.centring.lam.clone()
    list(tr.steps(20))
    assert not torch.allclose(tr.centring.lam, start)
    save_run(tmp_path / "c", tr.model, tr.cfg, trainer=tr)
    run = load_run(tmp_path / "c", with_trainer_state=True)
    assert run.config.train.centering is True and "centering = true" in (tmp_path / "c" / "config.toml").read_text()
    again = resume_trainer(run, mnist_small.images)
    assert torch.equal(again.centring.mu, tr.centring.mu) and torch.equal(again.centring.lam, tr.centring.lam)
    a, b = next(tr.steps(1)), next(again.steps(1))
    assert a.loss == pytest.approx(b.loss, rel=1e-5, abs=1e-4)


def test_centering_config_is_validated_and_old_files_load_without_it():
    assert RunConfig.from_dict({"train": {"lr": 1e-3}}).train.centering is False
    with pytest.raises(ConfigError, match=r"\[train\]: centering must be true or false"):
        RunConfig.from_dict({"train": {"centering": "yes"}})
    with pytest.raises(ConfigError, match="train.centering_rate"):
        RunConfig.from_dict({"train": {"centering_rate": 0.0}})


@pytest.mark.parametrize("family,hidden", [("hopfield", [8]), ("dbm", [8, 4])])
def test_centering_is_refused_clearly_where_it_does_not_apply(family, hidden, mnist_small):
    cfg = preset_config(family).with_overrides(**{"model.hidden": hidden, "train.centering": True})
    with pytest.raises(ConfigError, match="train.centering applies to Bernoulli RBMs"):
        make_trainer(cfg, mnist_small.images)
