"""The Gaussian-mixture prior: exact energy of a noised mixture, its fit, its draws, its checkpoints."""

import math

import torch

from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.conv.gaussian_prior import GaussianPrior
from ebm_studio.core.conv.mixture_prior import MixturePrior
from ebm_studio.core.conv.sampler import gaussian_prior_of
from ebm_studio.core.families import build_model, make_trainer, sample_chain


def _hand_made(dim=6, k=3, r=2, seed=0) -> MixturePrior:
    g = torch.Generator().manual_seed(seed)
    prior = MixturePrior(k, r, dim)
    basis = torch.linalg.qr(torch.randn(k, dim, r, generator=g)).Q  # orthonormal U_k
    prior.basis.copy_(basis.permute(1, 0, 2).reshape(dim, k * r))
    prior.mean.copy_(3 * torch.randn(k, dim, generator=g))
    prior.variance.copy_(0.5 + torch.rand(k, r, generator=g))
    prior.residual.copy_(0.05 + 0.1 * torch.rand(k, generator=g))
    prior.log_weight.copy_(torch.tensor([0.5, 0.3, 0.2]).log())
    return prior


def _covariances(prior: MixturePrior) -> torch.Tensor:
    k, r, dim = prior.components, prior.rank, prior.mean.shape[1]
    u = prior.basis.view(dim, k, r).permute(1, 0, 2)
    eye = torch.eye(dim)
    return (u @ torch.diag_embed(prior.variance) @ u.transpose(1, 2)
            + prior.residual[:, None, None] * (eye - u @ u.transpose(1, 2)))


def test_energy_is_the_exact_negative_log_density_of_the_noised_mixture_up_to_a_constant():
    prior = _hand_made()
    cov = _covariances(prior)
    x = torch.randn(9, 6, generator=torch.Generator().manual_seed(1)) * 3
    for s in (0.05, 0.5, 2.0):
        mix = torch.distributions.MixtureSameFamily(
            torch.distributions.Categorical(logits=prior.log_weight),
            torch.distributions.MultivariateNormal(prior.mean, cov + s * s * torch.eye(6)))
        mine = prior(x, torch.full((9,), s))
        exact = -mix.log_prob(x)
        shift = exact - mine
        assert torch.allclose(shift, shift[0].expand(9), atol=1e-3), s  # differs by one constant per sigma
        xg = x.clone().requires_grad_(True)
        (g_mine,) = torch.autograd.grad(prior(xg, torch.full((9,), s)).sum(), xg)
        xg2 = x.clone().requires_grad_(True)
        (g_exact,) = torch.autograd.grad(-mix.log_prob(xg2).sum(), xg2)
        assert torch.allclose(g_mine, g_exact, atol=1e-3, rtol=1e-3), s  # the exact score


def test_fit_finds_the_clusters_of_mixture_data_and_their_weights():
    truth = _hand_made(seed=2)
    g = torch.Generator().manual_seed(3)
    n = 6000
    comp = torch.multinomial(truth.log_weight.exp(), n, replacement=True, generator=g)
    chol = torch.linalg.cholesky(_covariances(truth))
    data = truth.mean[comp] + (chol[comp] @ torch.randn(n, 6, 1, generator=g)).squeeze(-1)
    fit = MixturePrior(3, 2, 6).fit(data, seed=0)
    order = torch.cdist(truth.mean, fit.mean).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2]
    assert torch.allclose(fit.mean[order], truth.mean, atol=0.1)
    assert torch.allclose(fit.log_weight.exp()[order], truth.log_weight.exp(), atol=0.03)
    assert torch.allclose(fit.residual[order], truth.residual, rtol=0.25)
    assert torch.allclose(fit.variance[order].sort(1).values, truth.variance.sort(1).values, rtol=0.15)


def test_draws_from_uniform_noise_follow_the_mixture_and_a_seed_fixes_them():
    images = torch.rand(600, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    images[:300] *= 0.2  # two kinds of image: dim and bright
    prior = MixturePrior(2, 4).fit(images, seed=0)
    u = torch.rand(3000, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    x = prior.from_uniform(u)
    assert torch.equal(x, prior.from_uniform(u))
    brightness = x.flatten(1).mean(1)
    dim_share = float((brightness < 0.3).double().mean())
    assert abs(dim_share - 0.5) < 0.05  # both components, in their weights
    assert abs(float(x.flatten(1).mean()) - float(images.mean())) < 0.02
    cfg = RunConfig().with_overrides(**{"sampler.levels": 3, "model.prior_components": 2, "model.prior_rank": 4})
    model = build_model(cfg).eval()
    model.prior = prior
    first = next(iter(sample_chain(model, cfg, u[:3], generator=torch.Generator())))
    assert torch.allclose(first.x, prior.from_uniform(u[:3]))  # the sampler starts at the mixture's draw


def test_a_conv_energy_with_a_mixture_prior_trains_saves_and_loads(tmp_path, mnist_small):
    cfg = RunConfig().with_overrides(**{"model.width": 4, "model.prior_components": 5, "model.prior_rank": 3,
                                        "train.batch_size": 16, "sampler.levels": 3, "train.contrast": 0.0})
    trainer = make_trainer(cfg, mnist_small.images)
    prior = gaussian_prior_of(trainer.model)
    assert isinstance(prior, MixturePrior) and prior.components == 5 and prior.rank == 3
    assert float(prior.mean.abs().sum()) > 0  # fitted to the data on creation
    for _ in range(2):
        record = trainer.train_step()
    assert math.isfinite(record.loss)
    model = trainer.export_model()
    save_run(tmp_path / "run", model, cfg, trainer=trainer)
    loaded = load_run(tmp_path / "run")
    x = mnist_small.images[:4]
    assert torch.allclose(loaded.model(x, 0.3), model(x, 0.3), atol=1e-5)
    # the fit is not trained: the trainer state leaves it to the model file, and a resumed run has it back
    assert not any(".prior." in k for k in trainer.state_tensors())
    resumed = resume_trainer(load_run(tmp_path / "run", with_trainer_state=True), mnist_small.images)
    assert torch.equal(resumed.model.prior.basis, trainer.model.prior.basis)
    assert torch.allclose(resumed.model(x, 0.3), trainer.model(x, 0.3), atol=1e-5)  # the raw weights, too
    assert math.isfinite(resumed.train_step().loss)


def test_files_without_the_key_keep_the_single_gaussian():
    raw = RunConfig().to_dict()
    del raw["model"]["prior_components"]
    cfg = RunConfig.from_dict(raw)
    assert cfg.model.prior_components == 1
    assert isinstance(gaussian_prior_of(build_model(cfg)), GaussianPrior)
    assert isinstance(ConvEnergy(4, noise_conditional=True, gaussian_prior=True, prior_components=3).prior,
                      MixturePrior)


def test_a_small_data_set_fits_fewer_distinct_components_and_repeats_them():
    images = torch.rand(50, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    prior = MixturePrior(100, 4).fit(images)  # 50 images support 3 clusters of >= 16 (4 per direction)
    distinct = torch.unique(prior.mean, dim=0)
    assert distinct.shape[0] == 3
    assert abs(float(prior.log_weight.exp().sum()) - 1) < 1e-5
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(8))
    three = MixturePrior(3, 4).fit(images)
    s = torch.full((5,), 0.3)
    (g100,) = torch.autograd.grad(prior(x.requires_grad_(True), s).sum(), x)
    x2 = x.detach().requires_grad_(True)
    (g3,) = torch.autograd.grad(three(x2, s).sum(), x2)
    assert torch.allclose(g100, g3, atol=1e-4)  # the same mixture: the same score


def test_the_score_stays_exact_under_bfloat16_autocast():
    prior = MixturePrior(4, 8).fit(torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(9)))
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(10))
    s = torch.full((6,), 0.02)  # the smallest level, where bfloat16 would break it

    def score(autocast: bool) -> torch.Tensor:
        xg = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            e = prior(xg, s)
        (g,) = torch.autograd.grad(e.sum(), xg)
        return g

    exact, under = score(False), score(True)
    assert torch.allclose(under, exact, rtol=1e-4, atol=1e-3 * float(exact.abs().max()))
