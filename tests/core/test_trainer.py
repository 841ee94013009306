import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.langevin import uniform_noise
from ebm_studio.core.families import make_trainer


def small_cfg(**over):
    from ebm_studio.core.presets import PRESETS

    base = dict(PRESETS["cd-uva"])
    base.update({"model.width": 8, "train.batch_size": 32, "sampler.steps": 10, "train.lr": 1e-3,
                 "train.buffer_size": 256})
    base.update(over)
    return RunConfig().with_overrides(**base)


def _gap(trainer, data):
    with torch.no_grad():
        e_data = trainer.model(data[:256]).mean().item()
        e_noise = trainer.model(uniform_noise(256, torch.Generator().manual_seed(3))).mean().item()
    return e_noise - e_data


def test_pcd_moves_data_energy_below_noise(mnist_small):
    tr = make_trainer(small_cfg(), mnist_small.images)
    before = _gap(tr, mnist_small.images)
    records = list(tr.steps(150))
    after = _gap(tr, mnist_small.images)
    assert [r.step for r in records] == list(range(1, 151))
    assert all(r.grad_norm >= 0 for r in records)
    assert after > before + 0.5, (before, after)


def test_cd_from_data_and_noise_negatives_run(mnist_small):
    for source in ("data", "noise"):
        tr = make_trainer(small_cfg(**{"train.negatives": source}), mnist_small.images)
        before = _gap(tr, mnist_small.images)
        list(tr.steps(120))
        assert _gap(tr, mnist_small.images) > before, source


def test_same_seed_same_trajectory(mnist_small):
    a = make_trainer(small_cfg(), mnist_small.images)
    b = make_trainer(small_cfg(), mnist_small.images)
    ra = [r.loss for r in a.steps(5)]
    rb = [r.loss for r in b.steps(5)]
    assert ra == rb
    c = make_trainer(small_cfg(**{"train.seed": 1}), mnist_small.images)
    assert [r.loss for r in c.steps(5)] != ra


def test_settings_change_mid_run(mnist_small):
    tr = make_trainer(small_cfg(), mnist_small.images)
    next(tr.steps(1))
    tr.update_settings(tr.cfg.with_overrides(**{"train.lr": 5e-4, "sampler.steps": 3}))
    rec = tr.train_step()
    assert rec.lr == 5e-4
    assert tr.cfg.sampler.steps == 3


def test_divergence_restores_last_good_state(mnist_small):
    tr = make_trainer(small_cfg(), mnist_small.images)
    list(tr.steps(3))
    good = {k: v.clone() for k, v in tr.model.state_dict().items()}
    lr = tr.lr
    with torch.no_grad():  # poison the weights, as an exploding step would
        next(tr.model.parameters()).fill_(float("nan"))
    rec = tr.train_step()
    assert rec.event and "diverged" in rec.event
    assert tr.params_finite()
    assert tr.lr == lr / 2
    snap_state = tr.model.state_dict()
    assert all(torch.isfinite(v).all() for v in snap_state.values())
    assert any(not torch.equal(good[k], snap_state[k]) for k in good) or tr.guard.snapshot["step"] == 0


def test_a_profiled_dsm_step_names_its_parts(mnist_small):
    """benchmarks/step_time.py reads these names from the profile: the step must keep marking them."""
    from torch.profiler import ProfilerActivity, profile

    from ebm_studio.core.presets import preset_config

    cfg = preset_config("dsm").with_overrides(**{"model.width": 8, "train.batch_size": 16,
                                                "model.prior_components": 1})
    tr = make_trainer(cfg, mnist_small.images[:200])
    tr.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tr.train_step()
    names = {e.key for e in prof.key_averages() if e.key.startswith("step: ")}
    assert {"step: batch", "step: noise draw", "step: energy and input gradient", "step: backward and optimiser",
            "step: weight average", "step: chart probe", "step: divergence guard"} <= names
