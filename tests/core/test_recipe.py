"""The default recipe: denoising score matching + annealed Langevin."""

import math

import pytest
import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.schedules import annealed_schedule
from ebm_studio.core.families import make_trainer, sample_chain


def tiny(**over):
    base = {"model.width": 8, "train.batch_size": 64, "train.lr": 2e-3}
    base.update(over)
    return RunConfig().with_overrides(**base)


def test_default_recipe_is_noise_conditional_dsm_with_ancestral_sampler():
    cfg = RunConfig()
    assert cfg.train.objective == "dsm" and cfg.sampler.schedule == "ancestral"
    assert cfg.model.noise_conditional and cfg.model.gaussian_prior
    assert cfg.sampler.chain_steps() == cfg.sampler.levels * cfg.sampler.steps_per_level + 1  # the canvas's chain
    assert cfg.sampler.method == "fast-pc" and cfg.sampler.total_steps() == 111  # samples from noise


def test_configs_written_before_the_new_recipe_keep_their_meaning():
    old = RunConfig.from_dict({"model": {"family": "conv", "width": 32}, "train": {"objective": "dsm"}})
    assert not old.model.noise_conditional and not old.model.gaussian_prior and old.train.sigma_skew == 1.0
    assert RunConfig.from_dict({}).model.noise_conditional  # no model section at all: today's defaults
    assert RunConfig.from_dict({"model": {"family": "conv"}}).model.width == 32  # the width of its day
    assert RunConfig().model.width == 48


def test_annealed_schedule_endpoints():
    sched = annealed_schedule(1.0, 0.01, levels=3, steps_per_level=2, eps=1e-4, denoise=True)
    assert len(sched) == 7
    (s0, n0, sig0), (s_last, n_last, sig_last) = sched[0], sched[-2]
    assert sig0 == 1.0 and sig_last == pytest.approx(0.01)
    # level sigma: step a = eps * (sigma/sigma_min)^2, update a/sigma on grad E, noise sqrt(2a)
    assert s0 == pytest.approx(1e-4 * 1e4 / 1.0) and n0 == pytest.approx(math.sqrt(2.0))
    assert s_last == pytest.approx(1e-4 / 0.01) and n_last == pytest.approx(math.sqrt(2e-4))
    assert sched[-1] == (0.01, 0.0, 0.01)
    assert annealed_schedule(1.0, 0.01, 3, 2, 1e-4, denoise=False)[-1][1] != 0.0


def _fixed_dsm_loss(model, images):
    """The DSM loss on fixed images, noise and levels (no batch-to-batch noise in the comparison)."""
    g = torch.Generator().manual_seed(0)
    sigma = torch.exp(math.log(0.02) + math.log(50) * torch.rand(len(images), 1, 1, 1, generator=g))
    z = torch.randn(images.shape, generator=g)
    noisy = (images + sigma * z).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(noisy, sigma.flatten()).sum(), noisy)
    return float((grad - z).pow(2).mean())


@pytest.mark.parametrize("prior", [False, True])
def test_dsm_loss_decreases_on_a_tiny_subset(mnist_small, prior):
    tr = make_trainer(tiny(**{"model.gaussian_prior": prior}), mnist_small.images)
    first = _fixed_dsm_loss(tr.model, mnist_small.images[:256])
    records = list(tr.steps(120))
    last = _fixed_dsm_loss(tr.model, mnist_small.images[:256])
    assert first > (0.1 if prior else 0.5)  # an untrained net explains little of the noise, the prior some
    assert last < (0.95 if prior else 0.85) * first, (first, last)  # the prior leaves the net less to learn
    assert all(math.isfinite(r.loss) for r in records)
    assert tr.negatives.shape[1:] == (1, 28, 28)  # Tweedie-denoised batch for the gallery


def test_dsm_energy_prefers_digits_over_noise(mnist_small):
    tr = make_trainer(tiny(), mnist_small.images)
    list(tr.steps(150))
    with torch.no_grad():
        e_data = tr.model(mnist_small.images[:200]).mean()
        e_noise = tr.model(torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))).mean()
    assert e_data < e_noise


def test_dsm_resume_is_exact(tmp_path, mnist_small):
    from ebm_studio.core.checkpoint import load_run, resume_trainer, save_run

    data = mnist_small.images[:128]
    a = make_trainer(tiny(**{"train.batch_size": 16}), data)
    list(a.steps(3))
    save_run(tmp_path / "r", a.model, a.cfg, trainer=a)
    expected = [r.loss for r in a.steps(3)]
    b = resume_trainer(load_run(tmp_path / "r", with_trainer_state=True), data)
    assert [r.loss for r in b.steps(3)] == expected


def test_sample_chain_follows_the_schedule():
    cfg = tiny(**{"sampler.levels": 4, "sampler.steps_per_level": 3, "sampler.method": "pc"})
    model = make_trainer(cfg, torch.rand(8, 1, 28, 28)).model
    steps = list(sample_chain(model, cfg, torch.rand(2, 1, 28, 28)))
    assert [s.step for s in steps] == list(range(0, 4 * 3 + 2))
    fast = cfg.with_overrides(**{"sampler.method": "fast-pc", "sampler.solver_steps": 3, "sampler.fast_tail": 2})
    steps = list(sample_chain(model, fast, torch.rand(2, 1, 28, 28)))
    assert [s.step for s in steps] == list(range(0, fast.sampler.total_steps() + 1))  # 1 + 3 x 5 + 2
    assert fast.sampler.total_steps() == 18
    assert all(float(s.x.min()) >= 0 and float(s.x.max()) <= 1 for s in steps)


def test_shipped_pretrained_model_makes_digit_like_samples():
    from ebm_studio.core.models_io import open_model
    from ebm_studio.core.quality import load_meter

    run = open_model("pretrained")
    assert run.config.train.objective == "dsm" and run.config.model.family == "conv"
    g = torch.Generator().manual_seed(0)
    last = None
    for last in sample_chain(run.model, run.config, torch.rand(100, 1, 28, 28, generator=g), generator=g):
        pass
    meter = load_meter()
    samples = meter.evaluate(last.x)
    noise = meter.evaluate(torch.rand(100, 1, 28, 28, generator=g))
    assert samples.fid < 0.3 * noise.fid, (samples, noise)  # shipped: 99 at n = 1000, noise 1092
    assert samples.confidence > 0.75 > noise.confidence  # shipped: 0.89 at n = 1000
    assert samples.coverage_bits > 2.5  # many digits, not one mode
    assert samples.nn_distance > 2.0  # not copies of training images
    from ebm_studio.core.conv.guidance import load_guide

    guide, info = load_guide(run.path)  # it ships with its class guide (canvas steering, --label)
    assert info["test_accuracy_by_sigma"]["0.1"] > 0.9
