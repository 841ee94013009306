"""The flow-matching baseline: its ODE solvers, its training, its sampler, its runs and its recipe."""

import json
import math

import numpy as np
import pytest
import torch

from ebm_studio.cli import main
from ebm_studio.core.baselines.flow_matching import FlowMatching, flow_chain
from ebm_studio.core.baselines.ode import integrate
from ebm_studio.core.baselines.unet import VelocityUNet, parameter_count
from ebm_studio.core.checkpoint import load_run, resume_trainer
from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.families import draw_from_noise, family, make_trainer, sample_chain
from ebm_studio.core.presets import preset_config
from ebm_studio.core.session import Budget, TrainingSession

TINY = {"model.width": 4, "train.batch_size": 16, "data.limit": 64, "train.device": "cpu",
        "sampler.solver_steps": 4}


def _digits(n=64):
    from ebm_studio.core.data import load_mnist

    return load_mnist("train", limit=n).images


def _final(velocity, x0, steps, method):
    calls = []

    def counted(x, t):
        calls.append(t)
        return velocity(x, t)

    states = list(integrate(counted, x0, steps, method))
    return states, len(calls)


# --- the solvers -------------------------------------------------------------------------------
def test_heun_is_second_order_and_euler_first_on_a_field_with_a_closed_form():
    """dx/dt = t - x from x0 has x(1) = (x0 + 1) / e: halving the step quarters Heun's error
    (its last step is Euler's, which must not cost it its order) and halves Euler's."""
    x0 = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64)
    exact = (x0 + 1.0) / math.e
    errors = {}
    for method in ("euler", "heun"):
        errors[method] = []
        for n in (8, 16, 32, 64):
            states, evals = _final(lambda x, t: t - x, x0, n, method)
            assert [s.step for s in states] == list(range(n + 1))
            assert states[0].t == 0.0 and states[-1].t == 1.0
            assert evals == (2 * n - 1 if method == "heun" else n)  # SamplerConfig.evaluations counts the same
            errors[method].append(float((states[-1].x - exact).abs().max()))
    euler, heun = np.array(errors["euler"]), np.array(errors["heun"])
    assert np.all((1.8 < euler[:-1] / euler[1:]) & (euler[:-1] / euler[1:] < 2.3))
    assert np.all((3.6 < heun[:-1] / heun[1:]) & (heun[:-1] / heun[1:] < 4.6))
    assert np.all(heun < 0.2 * euler)


def test_a_constant_velocity_is_integrated_exactly_in_one_step():
    x0 = torch.zeros(2, 1, 28, 28)
    for method in ("euler", "heun"):
        states, evals = _final(lambda x, t: torch.full_like(x, 0.7), x0, 1, method)
        assert evals == 1 and len(states) == 2
        assert torch.allclose(states[-1].x, torch.full_like(x0, 0.7))
    with pytest.raises(ConfigError, match="heun or euler"):
        next(integrate(lambda x, t: x, x0, 4, "dpm++2m"))
    with pytest.raises(ConfigError, match="at least one"):
        next(integrate(lambda x, t: x, x0, 0, "heun"))


# --- the net and the model ---------------------------------------------------------------------
def test_the_unet_keeps_the_shape_starts_still_and_is_sized_like_the_default_energy():
    from ebm_studio.core.conv.energy import build_conv_energy

    net = VelocityUNet(4)
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(net(x, torch.rand(3)), torch.zeros_like(x))  # the last conv starts at zero
    for w in (1, 3, 4, 16):
        assert parameter_count(w) == sum(p.numel() for p in VelocityUNet(w).parameters())
    energy = sum(p.numel() for p in build_conv_energy(RunConfig()).parameters())
    ours = parameter_count(preset_config("flowmatch").model.width)
    assert 0.7 < ours / energy < 1.3
    with pytest.raises(ConfigError, match="flowmatch of that size"):  # the size limit knows the family
        RunConfig().with_overrides(**{"model.family": "flowmatch", "model.width": 512})


def test_the_stand_in_energy_is_deterministic_and_time_dependence_reaches_the_net():
    torch.manual_seed(0)
    model = FlowMatching(width=4)
    for p in model.parameters():  # leave the still start: a net whose output depends on x and t
        p.data.normal_(0, 0.2)
    x = _digits(5)
    assert torch.equal(model.energy(x), model.energy(x)) and model.energy(x).shape == (5,)
    assert torch.allclose(model.energy(x[:2]), model.energy(x)[:2], atol=1e-6)  # per image, not per batch
    z = torch.randn(2, 1, 28, 28)
    assert not torch.allclose(model.velocity(z, 0.1), model.velocity(z, 0.9))


# --- training ----------------------------------------------------------------------------------
def test_the_loss_falls_on_a_tiny_dataset_and_the_average_is_what_samples():
    cfg = preset_config("flowmatch").with_overrides(**{**TINY, "model.width": 8})
    trainer = make_trainer(cfg, _digits(64))
    losses = [trainer.train_step().loss for _ in range(40)]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:3])
    assert trainer.export_model() is trainer.average.module
    assert not torch.equal(next(trainer.average.module.parameters()), next(trainer.model.parameters()))
    assert trainer.negatives.shape == (16, 1, 28, 28)  # the live view's samples (redrawn every LIVE_EVERY steps)


# --- sampling ----------------------------------------------------------------------------------
def test_the_sampler_yields_one_state_a_solver_step_in_the_pixel_range():
    cfg = preset_config("flowmatch").with_overrides(**TINY)
    model = FlowMatching(width=4).eval()
    g = torch.Generator().manual_seed(0)
    steps = list(sample_chain(model, cfg, torch.rand(6, 1, 28, 28), generator=g))
    assert [s.step for s in steps] == list(range(cfg.sampler.solver_steps + 1))  # solver_steps + 1 states
    assert cfg.sampler.total_steps() == cfg.sampler.solver_steps  # what the progress bars count
    for s in steps:
        assert s.x.shape == (6, 1, 28, 28) and s.energy.shape == (6,)
        assert 0 <= float(s.x.min()) and float(s.x.max()) <= 1
    # an untrained net does not move: the path stays at its start, the noise mapped to pixels
    assert torch.equal(steps[0].x, steps[-1].x) and float(steps[-1].energy.max()) == 0
    assert len(list(flow_chain(model, cfg, torch.rand(2, 1, 28, 28), steps=7))) == 8  # a caller's step count
    euler = cfg.with_overrides(**{"sampler.method": "euler"})
    assert len(list(sample_chain(model, euler, torch.rand(2, 1, 28, 28)))) == cfg.sampler.solver_steps + 1
    with pytest.raises(ConfigError, match="heun or euler"):
        list(sample_chain(model, cfg.with_overrides(**{"sampler.method": "fast-pc"}), torch.rand(2, 1, 28, 28)))
    # the temperature scales the starting noise, as the other baselines' latent
    cold = next(sample_chain(model, cfg.with_overrides(**{"sampler.temperature": 0.1}), torch.rand(64, 1, 28, 28),
                             generator=torch.Generator().manual_seed(0)))
    assert 0.45 < float(cold.x.mean()) < 0.55 and float(cold.x.std()) < 0.1


def test_a_saved_run_reloads_resumes_and_draws_the_same_samples(tmp_path):
    cfg = preset_config("flowmatch").with_overrides(**TINY)
    session = TrainingSession(cfg, run_dir=tmp_path / "fm", autosave_minutes=0)
    list(session.run(Budget(steps=6)))
    session.save()
    trained = session.trainer
    assert "width = 4" in (tmp_path / "fm" / "config.toml").read_text()
    run = load_run(tmp_path / "fm", with_trainer_state=True)
    assert run.config.model.family == "flowmatch"
    for a, b in zip(run.model.parameters(), trained.average.module.parameters()):  # the model file holds the average
        assert torch.equal(a, b)
    mine = draw_from_noise(trained.export_model().eval(), trained.cfg, 10, seed=3)
    loaded = draw_from_noise(run.model.eval(), run.config, 10, seed=3)
    assert torch.equal(mine, loaded) and mine.shape == (10, 1, 28, 28)
    assert torch.allclose(run.model.energy(mine), trained.export_model().energy(mine))
    resumed = resume_trainer(run, session.data)
    assert resumed.step == 6
    for a, b in zip(resumed.model.parameters(), trained.model.parameters()):  # the raw weights come back too
        assert torch.equal(a, b)
    assert math.isfinite(resumed.train_step().loss)


# --- the record, the recipe and the command line ------------------------------------------------
def test_the_record_and_recipe():
    rec = family("flowmatch")
    assert not rec.energy_model and not rec.has_chain and not rec.clampable and rec.preset == "flowmatch"
    cfg = preset_config("flowmatch")
    assert cfg.model.family == "flowmatch" and cfg.sampler.method == "heun"
    assert cfg.sampler.evaluations() == 2 * cfg.sampler.solver_steps - 1
    assert rec.chart_labels(cfg) == ("FM loss(data)", "FM loss(samples)")


def test_cli_trains_samples_and_compares_flow_matching(tmp_path, capsys):
    run = tmp_path / "fm"
    assert main(["train", "--preset", "flowmatch", "--out", str(run), "--steps", "3", "--limit", "64",
                 "--width", "4", "--batch-size", "16", "--quiet"]) == 0
    assert load_run(run).config.model.family == "flowmatch"
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "--n", "5", "--out", str(out), "--steps", "3", "--sampler", "euler"]) == 0
    assert np.load(out).shape == (5, 28, 28)
    capsys.readouterr()
    # a trained run beside a cold start of the recipe for a (tiny) budget, through the generic paths
    cmp = tmp_path / "cmp"
    assert main(["compare", str(run), "--train-minutes", "0.01", "--families", "flowmatch", "--out", str(cmp),
                 "--n", "20", "--json", "--quiet"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["family"] for r in rows] == ["flowmatch", "flowmatch"] and rows[1]["train_steps"] >= 1
    assert all(r["fid"] > 0 and r["sample_ms"] > 0 for r in rows)
    assert load_run(cmp / "flowmatch").config.model.width == preset_config("flowmatch").model.width
    assert main(["compare", "--train-minutes", "1", "--families", "conv,flowmatch,gan", "--out", str(tmp_path)]) == 2
    assert "unknown gan" in capsys.readouterr().err  # flowmatch is a known family
