"""Divergence recovery, crash-safe saving and clean shutdown."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.errors import DeviceError, DivergenceError
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config


def test_absurd_learning_rate_recovers_with_finite_weights(mnist_small):
    cfg = preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 32, "sampler.steps": 5,
                                                     "train.lr": 5.0, "train.beta1": 0.9, "train.alpha": 0.0})
    tr = make_trainer(cfg, mnist_small.images)
    events = []
    for r in tr.steps(80):
        if r.event:
            events.append(r.event)
    assert events, "an lr of 5 must trip the divergence guard"
    assert all("diverged" in e for e in events)
    assert tr.lr < 5.0
    assert tr.params_finite()
    with torch.no_grad():
        assert torch.isfinite(tr.model(mnist_small.images[:64])).all()


def test_hopeless_divergence_gives_up_with_a_clear_error(mnist_small):
    tr = make_trainer(preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 16,
                                                                 "sampler.steps": 2}), mnist_small.images)
    list(tr.steps(2))
    original = tr._step

    def poisoned(batch):
        out = original(batch)
        with torch.no_grad():
            next(tr.model.parameters()).fill_(float("nan"))
        return out

    tr._step = poisoned
    with pytest.raises(DivergenceError, match="keeps diverging"):
        list(tr.steps(20))
    tr._step = original
    tr.guard.recover(tr)
    assert tr.params_finite()


CHILD = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.families import build_model
    from ebm_studio.core.checkpoint import save_run
    cfg = RunConfig().with_overrides(**{"model.width": 8})
    model = build_model(cfg)
    save_run(sys.argv[1], model, cfg)
    print("ready", flush=True)
    i = 0
    while True:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        save_run(sys.argv[1], model, cfg, meta={"i": i})
        i += 1
""")


def test_sigkill_during_saves_never_leaves_a_broken_checkpoint(tmp_path):
    rng = random.Random(0)
    run = tmp_path / "run"
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(run)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = load_run(run)  # must never raise
        assert all(torch.isfinite(v).all() for v in loaded.model.state_dict().values())
    leftovers = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 8  # at most one orphan temp file per kill; never a torn real file


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, EBM_STUDIO_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "ebm_studio", "train", "--out", str(run), "--steps", "100000",
                             "--limit", "256", "--batch-size", "16"], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    line = ""
    while "step" not in line or "epoch" not in line:
        line = proc.stderr.readline()
        assert time.time() < deadline and (line or proc.poll() is None), "training never started"
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest
    assert time.time() - t0 < 5
    assert "saved" in rest
    assert load_run(run, with_trainer_state=True).trainer_meta["step"] > 0


def test_cuda_requested_on_a_cpu_machine(capsys, tmp_path):
    from ebm_studio.cli import main
    from ebm_studio.core.device import cuda_available, resolve_device

    if cuda_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(DeviceError, match="CUDA"):
        resolve_device("cuda")
    assert main(["train", "--out", str(tmp_path / "r"), "--device", "cuda", "--steps", "1", "--limit", "64",
                 "--quiet"]) == 2
    assert "CUDA" in capsys.readouterr().err


def test_pause_policy_restores_and_stops_the_session_for_the_user(mnist_small, tmp_path, poison_next_step):
    from ebm_studio.core.session import Budget, TrainingSession

    cfg = preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 16, "sampler.steps": 2,
                                                     "train.on_divergence": "pause", "train.device": "cpu"})
    session = TrainingSession(cfg, data=mnist_small.images, run_dir=tmp_path / "run", autosave_minutes=0)
    list(session.run(Budget(steps=3)))
    lr = session.trainer.lr
    poison_next_step(session.trainer)
    records = list(session.run(Budget(steps=50)))
    assert session.paused_by_divergence
    assert len(records) == 1 and "paused" in records[0].event
    assert session.trainer.params_finite()
    assert session.trainer.lr == lr  # pausing leaves the settings to the user
    more = list(session.run(Budget(steps=2)))  # resuming carries on from the restored state
    assert len(more) == 2 and session.trainer.params_finite()


def test_stop_policy_raises_with_the_last_good_state_restored(mnist_small, poison_next_step):
    cfg = preset_config("cd-uva").with_overrides(**{"model.width": 4, "train.batch_size": 16, "sampler.steps": 2,
                                                     "train.on_divergence": "stop"})
    tr = make_trainer(cfg, mnist_small.images)
    list(tr.steps(3))
    poison_next_step(tr)
    with pytest.raises(DivergenceError, match="stopped"):
        list(tr.steps(5))
    assert tr.params_finite()


def test_out_of_memory_halves_the_batch_and_says_so(mnist_small):
    tr = make_trainer(preset_config("dsm").with_overrides(**{"model.width": 4, "train.batch_size": 64}),
                      mnist_small.images)
    original = tr._step

    def small_device(batch):
        if batch.shape[0] > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(batch)

    tr._step = small_device
    record = next(tr.steps(1))
    assert tr.batch_size == 16
    assert "out of memory" in record.event and "64 to 16" in record.event
    assert tr.params_finite()
