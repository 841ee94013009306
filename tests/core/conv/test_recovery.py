"""Recovery likelihood: the conditional Langevin steps, the level-by-level sampler, and the trainer
that learns an energy by maximum likelihood from their negatives."""

import math

import pytest
import torch
from toy_energies import GaussianEnergy

from ebm_studio.core.chain import drain
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv import make_trainer
from ebm_studio.core.conv.gradient import energy_and_grad
from ebm_studio.core.conv.recovery import RecoveryTrainer
from ebm_studio.core.conv.recovery_chain import conditional_step, recovery_chain, recovery_ladder
from ebm_studio.core.conv.sampler import langevin_sample_chain
from ebm_studio.core.conv.schedules import sigma_ladder
from ebm_studio.core.presets import preset_config


def test_conditional_steps_sample_the_gaussian_posterior_of_the_level_below():
    """For data N(mu, s0^2), p(x_s | y) with y = x_s + d z is Gaussian: mean and variance in closed form.
    Small steps and the step of 1 (one exact draw were the curvature 1 / s^2) must both land on it."""
    mu, s0, s, d = 0.3, 0.05, 0.4, 0.3  # s0 << s: the curvature is about the 1 / s^2 the step assumes
    model = GaussianEnergy(mu, s0)
    prior_var = s0**2 + s**2  # the marginal of x_s
    var = 1.0 / (1.0 / prior_var + 1.0 / d**2)
    y = torch.full((400, 1, 28, 28), 0.9)
    mean = var * (mu / prior_var + 0.9 / d**2)
    for step, n_steps in ((0.05, 300), (1.0, 12)):
        g = torch.Generator().manual_seed(0)
        x = y
        for _ in range(n_steps):
            x = conditional_step(x, y, energy_and_grad(model, x, s)[1], torch.tensor(s), torch.tensor(d), step, g)
        assert float(x.mean()) == pytest.approx(mean, abs=0.01)
        assert float(x.var()) == pytest.approx(var, rel=0.05)


def test_the_recovery_chain_ends_at_samples_of_the_energys_data():
    mu, s0 = 0.4, 0.15
    model = GaussianEnergy(mu, s0)
    cfg = preset_config("cd").sampler
    sigmas = recovery_ladder(cfg)
    assert len(sigmas) == cfg.recovery_levels() and sigmas[0] == cfg.sigma_max and sigmas[-1] == cfg.sigma_min
    assert sigmas[0] / sigmas[1] <= math.sqrt(1 + cfg.recovery_gap**2) + 1e-9  # levels no further apart than trained
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(300, 1, 28, 28, generator=g)
    states = list(recovery_chain(model, x0, sigmas, cfg.recovery_steps, cfg.recovery_step, generator=g))
    assert len(states) == cfg.chain_steps() + 1 == (len(sigmas) - 1) * cfg.recovery_steps + 2
    x = states[-1].x
    assert float(x.mean()) == pytest.approx(mu, abs=0.02)
    assert float(x.std()) == pytest.approx(s0, abs=0.015)  # two moves a level are enough for a Gaussian
    assert states[0].x.std() > 0.9  # it starts at sigma_max = 1 noise


def test_clamped_pixels_stay_put_in_every_state():
    model = GaussianEnergy(0.5, 0.2)
    x0 = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, 1, 28, 28, dtype=torch.bool)
    mask[..., :14, :] = True
    for st in recovery_chain(model, x0, sigma_ladder(1.0, 0.02, 12), 2, 0.2, mask=mask):
        assert torch.equal(st.x[..., :14, :], x0[..., :14, :])
    assert not torch.equal(st.x[..., 14:, :], x0[..., 14:, :])


def test_the_cd_recipe_trains_by_recovery_and_samples_with_its_own_chain():
    cfg = preset_config("cd")
    assert cfg.train.objective == "recovery" and cfg.sampler.method == "recovery"
    assert isinstance(make_trainer(cfg.with_overrides(**{"model.width": 4, "model.prior_components": 1}),
                                   torch.rand(32, 1, 28, 28)), RecoveryTrainer)
    model = GaussianEnergy(0.5, 0.2)
    steps = list(langevin_sample_chain(model, cfg, torch.rand(3, 1, 28, 28)))
    assert len(steps) == cfg.sampler.total_steps() + 1
    assert cfg.sampler.evaluations() == cfg.sampler.total_steps()  # Tweedie reuses the last gradient


def test_maximum_recovery_likelihood_moves_the_energy_to_the_data():
    """A Gaussian energy with a learnable mean, trained on images of constant grey 0.7: the negatives
    are drawn from the model's own conditional, so the mean must move from 0.2 to the data's."""
    cfg = RunConfig().with_overrides(**{"train.objective": "recovery", "sampler.method": "recovery",
                                        "train.lr": 0.02, "train.batch_size": 32, "train.ema": 0.0, "train.alpha": 0.01,
                                        "train.device": "cpu"})
    data = 0.7 + 0.05 * torch.randn(256, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    model = GaussianEnergy(0.2, 0.1, learn_mu=True)
    trainer = RecoveryTrainer(cfg, data, model=model, device="cpu")
    records = [trainer.train_step() for _ in range(60)]
    assert float(model.mu.detach()) == pytest.approx(0.7, abs=0.05)
    assert all(math.isfinite(r.loss) for r in records)
    late = sum(abs(r.loss) for r in records[-10:]) / 10  # at the fit, negatives and data have one energy
    assert late < 0.2 * abs(records[0].loss)
    assert trainer.negatives.shape[1:] == (1, 28, 28)


def test_a_short_run_of_the_cd_recipe_writes_a_model_that_samples(tmp_path):
    from ebm_studio.core.session import Budget, TrainingSession

    cfg = preset_config("cd", RunConfig().with_overrides(**{
        "model.width": 4, "model.prior_components": 4, "train.batch_size": 8, "train.device": "cpu",
        "data.limit": 64, "sampler.recovery_gap": 1.5}))
    session = TrainingSession(cfg, run_dir=tmp_path / "run", autosave_minutes=0)
    drain(session.run(Budget(steps=3)))
    session.save()
    x = drain(langevin_sample_chain(session.trainer.export_model(), session.cfg, torch.rand(2, 1, 28, 28))).x
    assert x.shape == (2, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1


def test_the_canvas_plays_a_recovery_energy_with_its_own_chain_from_any_level():
    from ebm_studio.core.playback import ChainPlayer, PlaybackSettings

    cfg = preset_config("cd")
    model = GaussianEnergy(0.5, 0.2)
    seed = torch.rand(28, 28, generator=torch.Generator().manual_seed(4)).numpy()
    mask = torch.zeros(28, 28, dtype=torch.bool)
    mask[:10] = True
    settings = PlaybackSettings.for_model(cfg, anneal_from=0.3)
    assert settings.total_steps == cfg.sampler.chain_steps()  # the whole chain's length, from sigma_max
    player = ChainPlayer(model, cfg, seed, n_chains=2, mask=mask.numpy(), settings=settings)
    while player.step():
        pass
    assert player.step_index == settings.total_steps
    assert (player.current[:, :10] == seed[:10]).all()  # clamped rows never move
    assert abs(float(player.current[:, 10:].mean()) - 0.5) < 0.05  # the rest went to the energy's mean
    assert player.sigmas[1] <= 0.3 and player.sigmas[-1] == cfg.sampler.sigma_min  # from 0.3 down
    assert len(player.sigmas) == len(player.energies)


def test_steps_asked_of_the_recovery_sampler_become_whole_levels():
    from ebm_studio.cli.sampling import ladder_overrides

    cfg = preset_config("cd")
    levels = cfg.sampler.recovery_levels()
    assert cfg.sampler.total_steps() == (levels - 1) * cfg.sampler.recovery_steps + 1
    over = ladder_overrides(cfg, None, 4 * (levels - 1) + 1)
    assert over == {"sampler.recovery_steps": 4}
    assert cfg.with_overrides(**over).sampler.total_steps() == 4 * (levels - 1) + 1
    assert ladder_overrides(cfg, None, 2) == {"sampler.recovery_steps": 1}  # at least one move a level


def test_a_move_never_pulls_further_than_the_cap_however_steep_the_energy():
    """An energy grown too steep would throw a chain far off in one move (the runaway of a
    maximum-likelihood run); the pull is capped at MAX_PULL * sigma per pixel, root mean square."""
    from ebm_studio.core.conv.recovery_chain import MAX_PULL

    s, d = 0.3, 0.3
    steep = GaussianEnergy(0.5, 1e-4)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(6))
    grad = 1e4 * energy_and_grad(steep, x, s)[1]  # ten thousand times steeper
    moved = conditional_step(x, x, grad, torch.tensor(s), torch.tensor(d), 2.0)  # step 2: no noise, x = y: no tether
    rms = (moved - x).flatten(1).pow(2).mean(1).sqrt()
    assert torch.allclose(rms, torch.full_like(rms, MAX_PULL * s), rtol=1e-4)
    gentle = energy_and_grad(GaussianEnergy(0.5, 0.2), x, s)[1]  # a sound energy is not clipped
    moved = conditional_step(x, x, gentle, torch.tensor(s), torch.tensor(d), 2.0)
    a = 2.0 * (s * s * d * d) / (s * s + d * d)
    assert torch.allclose(moved, x - a * gentle / s, atol=1e-6)
