"""The noise-conditional energy: Gaussian prior, sigma conditioning, and sigma through the samplers."""

import pytest
import torch
from torch import nn

from ebm_studio.core.checkpoint import load_run, save_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.conv.gaussian_prior import GaussianPrior
from ebm_studio.core.conv.langevin import langevin_chain
from ebm_studio.core.conv.schedules import annealed_schedule
from ebm_studio.core.families import make_trainer, sample_chain

COND = {"model.width": 4, "model.noise_conditional": True, "model.gaussian_prior": True, "model.prior_components": 1,
        "train.batch_size": 16,
        "sampler.levels": 3, "sampler.steps_per_level": 2}


def test_gaussian_prior_gives_the_exact_score_of_noised_gaussian_data():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 5, generator=g)
    cov = a @ a.T / 5 + 0.1 * torch.eye(5)
    mu = torch.randn(5, generator=g)
    data = torch.distributions.MultivariateNormal(mu, cov).sample((200_000,))
    prior = GaussianPrior(5).fit(data)
    x = torch.randn(7, 5, generator=g, requires_grad=True)
    sigma = torch.full((7,), 0.5)
    (grad,) = torch.autograd.grad(prior(x, sigma).sum(), x)
    exact = (x - mu) @ torch.linalg.inv(cov + 0.25 * torch.eye(5))  # -score of N(mu, C + sigma^2 I)
    assert torch.allclose(grad, exact.detach(), atol=0.05)


def test_noise_conditional_energy_depends_on_sigma_and_defaults_to_sigma_min():
    torch.manual_seed(0)
    m = ConvEnergy(4, noise_conditional=True, gaussian_prior=True, sigma_default=0.05)
    x = torch.rand(3, 1, 28, 28)
    assert not torch.allclose(m(x, 0.05), m(x, 0.8))
    assert torch.allclose(m(x), m(x, 0.05))
    assert torch.allclose(m(x, torch.tensor([0.1, 0.2, 0.3]))[1], m(x[1:2], 0.2)[0], atol=1e-5)
    blind = ConvEnergy(4)
    assert torch.allclose(blind(x), blind(x, 0.8)) and "sigma_default" not in blind.state_dict()


def test_annealed_chain_evaluates_each_level_at_its_sigma():
    class Recorder(nn.Module):
        uses_sigma = True

        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x, sigma=None):
            self.seen.append(sigma)
            return 0.5 * (x - 0.5).pow(2).flatten(1).sum(1)

    model = Recorder()
    sched = annealed_schedule(1.0, 0.1, levels=3, steps_per_level=2, eps=1e-3)
    list(langevin_chain(model, torch.rand(2, 1, 28, 28), schedule=sched, grad_clip=None))
    levels = model.seen
    assert levels[0] == 1.0 and levels[-1] == 0.1
    assert sorted(set(levels)) == pytest.approx([0.1, 0.1 ** 0.5, 1.0])
    assert len(model.seen) == len(sched) + 1  # the start and one per step, at the level of the step that follows
    assert levels == pytest.approx([1.0, 1.0, 0.1 ** 0.5, 0.1 ** 0.5, 0.1, 0.1, 0.1, 0.1])


def test_dsm_fits_the_prior_trains_and_round_trips(mnist_small, tmp_path):
    cfg = RunConfig().with_overrides(**COND)
    tr = make_trainer(cfg, mnist_small.images)
    prior = tr.model.prior
    assert torch.allclose(prior.mean, mnist_small.images.reshape(-1, 784).mean(0), atol=1e-5)
    records = list(tr.steps(5))
    assert all(torch.isfinite(torch.tensor(r.loss)) for r in records)
    model = tr.export_model()
    save_run(tmp_path / "run", model, cfg, trainer=tr)
    run = load_run(tmp_path / "run")
    x = mnist_small.images[:4]
    assert torch.allclose(run.model(x, 0.3), model(x, 0.3), atol=1e-5)
    last = None
    for last in sample_chain(run.model, run.config, torch.rand(4, 1, 28, 28)):
        pass
    assert last.step == run.config.sampler.total_steps() and torch.isfinite(last.x).all()


def test_ancestral_sampler_with_the_exact_score_draws_the_data_distribution():
    """Reverse diffusion driven by an exact energy must reproduce the data: Gaussian data in 4-d."""
    from ebm_studio.core.conv.schedules import ancestral_schedule

    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 4, generator=g)
    cov = a @ a.T / 4 + 0.05 * torch.eye(4)
    mu = torch.tensor([0.3, -0.2, 0.5, 0.1])
    prior = GaussianPrior(4)
    prior.mean.copy_(mu)
    prior.variance, prior.basis = torch.linalg.eigh(cov)

    class Exact(nn.Module):
        uses_sigma = True

        def forward(self, x, sigma=None):  # the models' convention: sigma * E(x, sigma)
            sig = torch.as_tensor(sigma).expand(x.shape[0])
            return sig * prior(x, sig)

    sched = ancestral_schedule(sigma_max=20.0, sigma_min=0.01, steps=200)
    x0 = torch.rand(20_000, 1, 2, 2, generator=g)
    last = None
    for last in langevin_chain(Exact(), x0, schedule=sched, grad_clip=None, clamp=None, generator=g):
        pass
    x = last.x.reshape(-1, 4)
    assert torch.allclose(x.mean(0), mu, atol=0.05)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.06)


def test_a_weights_only_run_resumes_after_its_logged_steps(tmp_path, mnist_small):
    """A shipped model has weights and metrics but no trainer state: continuing it must not
    restart the step count at 0 (which would erase and overlay its training history)."""
    from ebm_studio.core.session import Budget, TrainingSession

    cfg = RunConfig().with_overrides(**COND)
    tr = make_trainer(cfg, mnist_small.images)
    save_run(tmp_path / "run", tr.export_model(), cfg)  # no trainer state
    (tmp_path / "run" / "metrics.csv").write_text("step,epoch,loss\n200,0.4,0.15\n400,0.8,0.12\n")
    session = TrainingSession(cfg, run_dir=tmp_path / "run", resume=True, data=mnist_small.images,
                              autosave_minutes=0)
    assert session.trainer.step == 400
    (record,) = list(session.run(Budget(steps=1)))
    assert record.step == 401


def test_ancestral_chain_starts_at_the_gaussian_fit_mapped_from_the_uniform_start():
    import torch

    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.conv.sampler import gaussian_prior_of
    from ebm_studio.core.data import load_mnist
    from ebm_studio.core.families import build_model, sample_chain

    cfg = RunConfig().with_overrides(**{"sampler.levels": 3, "model.prior_components": 1})  # the single Gaussian
    model = build_model(cfg).eval()
    prior = gaussian_prior_of(model)
    prior.fit(load_mnist("train", limit=2000).images)
    u = torch.rand(4000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    x = prior.from_uniform(u).reshape(4000, -1).double()
    assert float((x.mean(0) - prior.mean).abs().max()) < 0.05  # the fit's mean ...
    assert abs(float(torch.cov(x.T).trace() / prior.variance.sum()) - 1) < 0.05  # ... and total variance
    x0 = u[:3]
    first = next(iter(sample_chain(model, cfg, x0, generator=torch.Generator())))
    assert torch.allclose(first.x, prior.from_uniform(x0))
    noised = cfg.with_overrides(**{"sampler.start": "noised"})
    assert torch.equal(next(iter(sample_chain(model, noised, x0, generator=torch.Generator()))).x, x0)
    raw = cfg.to_dict()
    del raw["sampler"]["start"]
    assert RunConfig.from_dict(raw).sampler.start == "noised"  # files from before keep their meaning
