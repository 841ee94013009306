"""train.lr_anneal: the learning rate falls to zero over the end of a budgeted run, and only there."""

import pytest

from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.session import Budget, TrainingSession, anneal_scale

SMALL = {"model.width": 4, "train.batch_size": 16, "sampler.levels": 3, "sampler.steps_per_level": 1,
         "train.contrast": 0.0}  # the lr alone: the contrastive phase would cut it too


def test_anneal_scale_is_flat_then_a_line_to_zero():
    assert anneal_scale(0.0, 0.25) == 1.0
    assert anneal_scale(0.75, 0.25) == 1.0
    assert anneal_scale(0.875, 0.25) == pytest.approx(0.5)
    assert anneal_scale(1.0, 0.25) == 0.0
    assert anneal_scale(0.9, 0.0) == 1.0  # off
    assert anneal_scale(None, 0.5) == 1.0  # no budget: nothing to anneal towards


def test_budget_progress_follows_the_limit_nearest_to_running_out():
    assert Budget(steps=10).progress(5, 0.0, 0.0, 0.0) == pytest.approx(0.5)
    assert Budget(steps=10, epochs=1.0).progress(2, 0.8, 0.0, 0.0) == pytest.approx(0.8)
    assert Budget().progress(5, 1.0, 0.0, 0.0) is None


def test_a_budgeted_run_anneals_its_lr_and_saves_the_base_rate(mnist_small, tmp_path):
    cfg = RunConfig().with_overrides(**SMALL, **{"train.lr": 1e-3, "train.lr_anneal": 0.5})
    session = TrainingSession(cfg, run_dir=tmp_path / "run", data=mnist_small.images, autosave_minutes=0)
    lrs = [r.lr for r in session.run(Budget(steps=10))]
    assert lrs[:6] == pytest.approx([1e-3] * 6)  # the first half at the configured rate
    assert lrs[6:] == pytest.approx([8e-4, 6e-4, 4e-4, 2e-4])  # then down a straight line
    assert session.trainer.lr == pytest.approx(1e-3)  # the annealing ends with the budget
    session.save()
    resumed = TrainingSession(RunConfig(), run_dir=tmp_path / "run", resume=True, data=mnist_small.images,
                              autosave_minutes=0)
    assert resumed.trainer.lr == pytest.approx(1e-3) and resumed.cfg.train.lr == pytest.approx(1e-3)
    assert load_run(tmp_path / "run").config.train.lr_anneal == 0.5


def test_a_divergence_while_annealing_lowers_the_base_rate_not_the_annealed_one(mnist_small, poison_next_step):
    cfg = RunConfig().with_overrides(**SMALL, **{"train.lr": 1e-3, "train.lr_anneal": 1.0})
    session = TrainingSession(cfg, data=mnist_small.images, autosave_minutes=0)
    tr = session.trainer
    records = []
    for r in session.run(Budget(steps=10)):
        records.append(r)
        if r.step == 4:
            poison_next_step(tr)
    assert any(r.event for r in records), "the poisoned step must trip the guard"
    assert tr.cfg.train.lr == pytest.approx(5e-4)  # halved once, from the base rate
    after = [r.lr for r in records if r.step > 6 and not r.event]
    assert after and all(0 < lr < 5e-4 for lr in after)  # and the annealing goes on from it


def test_lr_anneal_outside_zero_to_one_is_refused():
    with pytest.raises(ConfigError, match="lr_anneal"):
        RunConfig().with_overrides(**{"train.lr_anneal": 1.5})
