"""The one training loop, TrainingSession.steps, driven by hand with next() as the GUI worker does:
records, budget, autosave, divergence events, the one restore, errors by type, and a run that
exists from its first second."""

import time

import pytest
import torch

from ebm_studio.core import session as session_module
from ebm_studio.core.checkpoint import CONFIG_FILE, METRICS_FILE, MODEL_FILE, load_run
from ebm_studio.core.config import RunConfig, load_config
from ebm_studio.core.errors import DivergenceError, EbmStudioError, OutOfMemory
from ebm_studio.core.presets import preset_config
from ebm_studio.core.session import Budget, SessionStep, TrainingClock, TrainingSession

SMALL = {"model.width": 4, "train.batch_size": 16, "sampler.levels": 3, "sampler.steps_per_level": 1,
         "train.contrast": 0.0, "model.prior_components": 1, "train.device": "cpu"}


def small_session(mnist_small, tmp_path=None, **kw):
    cfg = RunConfig().with_overrides(**SMALL, **kw.pop("overrides", {}))
    run_dir = tmp_path / "run" if tmp_path is not None else None
    return TrainingSession(cfg, run_dir=run_dir, data=mnist_small.images, **{"autosave_minutes": 0, **kw})


def test_next_yields_one_step_record_at_a_time_and_the_budget_ends_the_loop(mnist_small, tmp_path):
    session = small_session(mnist_small, tmp_path)
    steps = session.steps(Budget(steps=3))
    first = next(steps)
    assert isinstance(first, SessionStep) and first.record.step == 1 and session.trainer.step == 1
    assert not first.pause_requested and not first.diverged and first.saved is None
    assert [s.record.step for s in steps] == [2, 3]  # and then the budget is spent
    assert [int(r["step"]) for r in session.log.rows] == [1, 2, 3]


def test_stop_between_two_next_calls_ends_the_loop_and_resets_the_budget_schedule(mnist_small):
    session = small_session(mnist_small, overrides={"train.lr_anneal": 0.5})
    stop = []
    steps = session.steps(Budget(steps=5), should_stop=lambda: bool(stop))
    for _ in range(4):
        next(steps)
    assert session.trainer.lr_scale < 1.0  # annealing in the last half of the budget
    stop.append(True)
    assert list(steps) == []
    assert session.trainer.lr_scale == 1.0  # the schedule belongs to the budget, not to the run


def test_closing_the_generator_also_ends_the_budget_schedule(mnist_small):
    session = small_session(mnist_small, overrides={"train.lr_anneal": 0.9})
    steps = session.steps(Budget(steps=10))
    next(steps), next(steps), next(steps)
    assert session.trainer.lr_scale < 1.0
    steps.close()  # what the worker does when Stop is pressed while paused
    assert session.trainer.lr_scale == 1.0


def test_the_training_clock_stands_still_while_paused():
    clock = TrainingClock()
    clock.pause()
    a = clock()
    time.sleep(0.05)
    assert clock() == a  # a paused run spends none of its wall-clock budget
    clock.resume()
    time.sleep(0.01)
    assert a < clock() < a + 0.045


def test_a_paused_clock_keeps_a_minutes_budget_from_running_out(mnist_small):
    session = small_session(mnist_small)
    clock = TrainingClock()
    steps = session.steps(Budget(minutes=0.002), clock=clock)  # 120 ms of training
    next(steps)
    clock.pause()
    time.sleep(0.2)  # longer than the whole budget, but paused
    clock.resume()
    assert next(steps).record.step == 2


def test_a_new_run_has_its_directory_and_config_before_the_data_loads(mnist_small, tmp_path, monkeypatch):
    seen = {}

    def load_data(cfg):
        seen["config"] = (tmp_path / "run" / CONFIG_FILE).exists()
        return mnist_small.images

    monkeypatch.setattr(TrainingSession, "_load_data", staticmethod(load_data))
    cfg = RunConfig().with_overrides(**SMALL)
    session = TrainingSession(cfg, run_dir=tmp_path / "run", autosave_minutes=1.0)
    assert seen["config"]
    run = load_run(tmp_path / "run")  # the first checkpoint: the run opens before its first step
    assert run.config.model.width == 4 and session.trainer.step == 0


def test_a_run_killed_before_its_first_checkpoint_resumes_from_its_config(mnist_small, tmp_path):
    run_dir = tmp_path / "run"
    small_session(mnist_small, tmp_path, autosave_minutes=0)  # autosave off: only the config is written
    assert (run_dir / CONFIG_FILE).exists() and not (run_dir / MODEL_FILE).exists()
    resumed = TrainingSession(RunConfig(), run_dir=run_dir, resume=True, data=mnist_small.images, autosave_minutes=0)
    assert resumed.restarted and resumed.cfg.model.width == 4
    assert [s.record.step for s in resumed.steps(Budget(steps=2))] == [1, 2]


def test_a_fresh_run_refuses_a_directory_that_holds_a_run(mnist_small, tmp_path):
    session = small_session(mnist_small, tmp_path)
    session.save()
    with pytest.raises(EbmStudioError, match="already holds a run"):
        small_session(mnist_small, tmp_path)


def test_autosave_is_time_based_and_writes_the_metrics_before_the_checkpoint(mnist_small, tmp_path, monkeypatch):
    session = small_session(mnist_small, tmp_path, autosave_minutes=1.0)
    assert session_module.AUTOSAVE_MINUTES <= 1.0  # a kill loses at most a minute of training
    assert next(session.steps(Budget(steps=1))).saved is None  # the interval has not passed
    logged_at_save = []
    real_save_run = session_module.save_run

    def spy(run_dir, model, cfg, trainer=None, **kw):
        rows = (run_dir / METRICS_FILE).read_text().strip().splitlines()[1:]
        logged_at_save.append((len(rows), trainer.step))
        return real_save_run(run_dir, model, cfg, trainer=trainer, **kw)

    monkeypatch.setattr(session_module, "save_run", spy)
    session.autosave_minutes = 1e-9
    step = next(session.steps(Budget(steps=1)))
    assert step.saved == tmp_path / "run"
    assert logged_at_save == [(2, 2)]  # every step of the checkpoint is already in metrics.csv
    assert load_config(tmp_path / "run" / CONFIG_FILE).model.width == 4


def test_a_failed_step_restores_the_last_good_state_with_the_current_learning_rate(mnist_small):
    session = small_session(mnist_small)
    steps = session.steps(Budget(steps=10))
    next(steps), next(steps)  # the guard's snapshot is of step 0, at lr 1e-3
    trainer = session.trainer
    trainer.update_settings(trainer.cfg.with_overrides(**{"train.lr": 4e-4}))  # changed in the UI

    def explode():
        with torch.no_grad():
            for p in trainer.model.parameters():
                p.fill_(float("nan"))
        raise DivergenceError("training keeps diverging (test)")

    trainer.train_step = explode
    with pytest.raises(DivergenceError):
        next(steps)
    assert trainer.params_finite() and session.restored_step == 0
    assert trainer.lr == pytest.approx(4e-4)  # the restore keeps today's rate (the worker's copy did not)


def test_running_out_of_memory_is_an_ebm_studio_error_of_its_own_type(mnist_small):
    session = small_session(mnist_small)

    def oom():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")

    session.trainer.train_step = oom
    with pytest.raises(OutOfMemory, match="ran out of memory") as info:
        next(session.steps(Budget(steps=1)))
    assert isinstance(info.value, EbmStudioError)


def test_a_divergence_is_flagged_by_the_step_and_pause_is_asked_without_ending_the_loop(mnist_small,
                                                                                      poison_next_step):
    cfg = preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 16, "sampler.steps": 2,
                                                     "train.on_divergence": "pause", "train.device": "cpu"})
    session = TrainingSession(cfg, data=mnist_small.images, autosave_minutes=0)
    steps = session.steps(Budget(steps=5))
    assert not next(steps).diverged
    poison_next_step(session.trainer)
    bad = next(steps)
    assert bad.diverged and bad.pause_requested and "paused" in bad.record.event
    assert session.trainer.params_finite()
    assert next(steps).record.step == bad.record.step + 1  # a driver that pauses resumes the same loop


def test_the_guard_shrinks_the_sampler_step_only_when_the_samples_blew_up(mnist_small):
    cfg = preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 16, "sampler.steps": 2,
                                                     "train.device": "cpu"})
    session = TrainingSession(cfg, data=mnist_small.images, autosave_minutes=0)
    trainer, guard = session.trainer, session.trainer.guard
    step_size = trainer.cfg.sampler.step_size
    guard.cool_down(trainer, 0.5, samples=False)
    assert trainer.cfg.sampler.step_size == step_size
    guard.cool_down(trainer, 0.5, samples=True)
    assert trainer.cfg.sampler.step_size == pytest.approx(step_size * 0.5)
