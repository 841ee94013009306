"""A run's model and trainer state are separable, saves are ordered, and killed writes leave no
litter (issue #24): a bad trainer.safetensors never blocks the model, names itself, and
``resume_trainer(fresh_optimizer=True)`` continues from the weights with a new optimiser."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from ebm_studio.core.checkpoint import CONFIG_FILE, MODEL_FILE, TRAINER_FILE, load_run, resume_trainer, save_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import CheckpointError
from ebm_studio.core.families import make_trainer
from ebm_studio.core.tensor_files import load_tensors, save_tensors


@pytest.fixture
def rbm_run(tmp_path, mnist_small):
    cfg = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [8], "train.objective": "cd"})
    trainer = make_trainer(cfg, mnist_small.images[:128])
    for _ in range(3):
        trainer.train_step()
    run_dir = tmp_path / "run"
    save_run(run_dir, trainer.export_model(), trainer.cfg, trainer=trainer)
    return run_dir, mnist_small.images[:128]


def _edit_trainer(run_dir, tensors_edit=None, meta_edit=None):
    tensors, info = load_tensors(run_dir / TRAINER_FILE)
    meta = json.loads(info["meta"])
    if tensors_edit:
        tensors_edit(tensors)
    if meta_edit:
        meta_edit(meta)
    info["meta"] = json.dumps(meta)
    save_tensors(run_dir / TRAINER_FILE, tensors, info)


BAD_STATES = {
    "moments of another shape": (lambda t: t.__setitem__("optim.0.exp_avg", torch.zeros(3)), None),
    "complex moments": (lambda t: t.__setitem__("optim.0.exp_avg", torch.zeros(784, 8, dtype=torch.complex64)), None),
    "negative step": (None, lambda m: m.__setitem__("step", -4)),
    "NaN base lr": (None, lambda m: m.__setitem__("base_lr", float("nan"))),
    "1e9 base lr": (None, lambda m: m.__setitem__("base_lr", 1e9)),
    "optimiser of the wrong size": (None, lambda m: m["param_groups"][0].__setitem__("params", [0, 1])),
    "two parameter groups": (None, lambda m: m.__setitem__("param_groups", m["param_groups"] * 2)),
    "chains of the wrong width": (lambda t: t.__setitem__("extra.chains", torch.zeros(10, 3)), None),
    "NaN base lr extra": (lambda t: t.__setitem__("extra.base_lr", torch.tensor(float("nan"))), None),
}


@pytest.mark.parametrize("name", list(BAD_STATES))
def test_a_bad_trainer_state_names_its_file_and_never_blocks_the_model(rbm_run, name):
    run_dir, data = rbm_run
    _edit_trainer(run_dir, *BAD_STATES[name])
    run = load_run(run_dir, with_trainer_state=True)  # the model is usable whatever the trainer state is
    assert all(torch.isfinite(v).all() for v in run.model.state_dict().values())
    with pytest.raises(CheckpointError, match="trainer.safetensors.*fresh-optimizer"):
        resume_trainer(load_run(run_dir, with_trainer_state=True), data)
    run = load_run(run_dir, with_trainer_state=True)
    trainer = resume_trainer(run, data, fresh_optimizer=True)
    assert "new optimiser" in run.notice and trainer.step == 3
    assert 0 < trainer.lr < 1 and trainer.lr == trainer.lr
    record = trainer.train_step()
    assert record.step == 4 and record.loss == record.loss


def test_corrupt_trainer_bytes_still_let_the_model_resume_fresh(rbm_run):
    run_dir, data = rbm_run
    (run_dir / TRAINER_FILE).write_bytes(os.urandom(1000))
    run = load_run(run_dir, with_trainer_state=True)
    assert "trainer.safetensors" in run.trainer_problem
    trainer = resume_trainer(run, data, fresh_optimizer=True)
    assert trainer.train_step().step == 4


def test_a_good_trainer_state_resumes_exactly(rbm_run):
    run_dir, data = rbm_run
    run = load_run(run_dir, with_trainer_state=True)
    trainer = resume_trainer(run, data)
    assert run.trainer_problem is None and run.notice is None and trainer.step == 3


def test_a_trainer_state_of_another_step_than_the_weights_is_not_mixed_in(rbm_run):
    """A kill between the weights' write and the trainer's leaves new weights beside an old trainer state."""
    run_dir, data = rbm_run
    _edit_trainer(run_dir, meta_edit=lambda m: m.__setitem__("step", 1))
    run = load_run(run_dir, with_trainer_state=True)
    assert "step 1" in run.trainer_problem and "step 3" in run.trainer_problem
    with pytest.raises(CheckpointError, match="interrupted"):
        resume_trainer(run, data)


def test_save_writes_config_first_then_weights_then_trainer(rbm_run, monkeypatch):
    import ebm_studio.core.checkpoint as ck

    run_dir, data = rbm_run
    order = []
    real_text, real_tensors = ck.atomic_write_text, ck.save_tensors
    monkeypatch.setattr(ck, "atomic_write_text", lambda p, t: (order.append(p.name), real_text(p, t)))
    monkeypatch.setattr(ck, "save_tensors", lambda p, *a: (order.append(p.name), real_tensors(p, *a)))
    run = load_run(run_dir, with_trainer_state=True)
    trainer = resume_trainer(run, data)
    trainer.train_step()
    save_run(run_dir, trainer.export_model(), trainer.cfg, trainer=trainer)
    assert order == [CONFIG_FILE, MODEL_FILE, TRAINER_FILE]


def test_a_kill_after_each_file_of_a_save_leaves_a_run_that_opens_and_resumes(rbm_run, monkeypatch):
    import ebm_studio.core.checkpoint as ck

    run_dir, data = rbm_run
    for stop_after in range(3):
        calls = {"n": 0}
        real_text, real_tensors = ck.atomic_write_text, ck.save_tensors

        def counted(real):
            def write(*a):
                if calls["n"] >= stop_after:
                    raise KeyboardInterrupt  # the process dies here
                calls["n"] += 1
                return real(*a)
            return write
        monkeypatch.setattr(ck, "atomic_write_text", counted(real_text))
        monkeypatch.setattr(ck, "save_tensors", counted(real_tensors))
        trainer = resume_trainer(load_run(run_dir, with_trainer_state=True), data, fresh_optimizer=True)
        trainer.train_step()
        with pytest.raises(KeyboardInterrupt):
            save_run(run_dir, trainer.export_model(), trainer.cfg, trainer=trainer)
        monkeypatch.undo()
        run = load_run(run_dir, with_trainer_state=True)  # opens
        resumed = resume_trainer(run, data, fresh_optimizer=run.trainer_problem is not None)
        assert resumed.step >= 3  # at most the interrupted save's step is lost
        record = resumed.train_step()
        assert record.loss == record.loss


def test_stale_temp_files_of_a_dead_writer_are_removed_on_the_next_open(rbm_run):
    run_dir, _ = rbm_run
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = run_dir / f".{TRAINER_FILE}.{pid}.abcd1234.tmp"
    stale.write_bytes(b"x" * 1000)
    mine = run_dir / f".{MODEL_FILE}.{os.getpid()}.zzzz.tmp"  # a live writer's file is kept
    mine.write_bytes(b"y")
    legacy = run_dir / f".{CONFIG_FILE}.q1w2e3r4.tmp"
    legacy.write_bytes(b"z")
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    load_run(run_dir)
    assert not stale.exists() and not legacy.exists() and mine.exists()
    mine.unlink()


def test_atomic_temp_names_carry_the_writer_pid(tmp_path):
    from ebm_studio.core.atomic import atomic_path

    with atomic_path(tmp_path / "f.bin") as tmp:
        assert f".f.bin.{os.getpid()}." in tmp.name
        tmp.write_bytes(b"1")
    assert (tmp_path / "f.bin").read_bytes() == b"1"
