"""Data-parallel training under ``torchrun --standalone --nproc_per_node=2`` on CPU (gloo).

Two processes, each on half of every global batch with the gradients averaged, must train the
model one process trains on the whole batch; the checkpoint rank 0 writes holds both ranks' chains,
so a resumed two-process run continues exactly, and the run opens like any other.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file

from ebm_studio.cli import main
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.families import build_model

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo")]

QUIET = ["--device", "cpu", "--quiet", "--no-tensorboard", "--autosave-minutes", "0"]
TINY = ["--width", "8", "--limit", "256", "--batch-size", "16", *QUIET]


def _env(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", EBM_STUDIO_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("EBM_STUDIO_THREADS", None)
    return env


def _start(tmp_path, out, *args, procs: int = 1) -> subprocess.Popen:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] \
        if procs > 1 else [sys.executable]
    flags = QUIET if "--resume" in args else TINY
    cmd = [*launcher, "-m", "ebm_studio", "train", "--out", str(out), *flags, *args]
    return subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(*runs: subprocess.Popen) -> None:
    """The runs, started side by side (their start-up overlaps), each finished cleanly."""
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err[-3000:]


def _raw(run_dir) -> dict[str, torch.Tensor]:
    tensors = load_file(str(run_dir / "trainer.safetensors"))
    return {k: v for k, v in tensors.items() if k.startswith("extra.raw.")}


def _distance(a, b) -> float:
    return float(sum((a[k].double() - b[k].double()).pow(2).sum() for k in a).sqrt())


def test_two_processes_train_the_single_process_model(tmp_path):
    dsm = ["--set", "train.contrast=0"]  # the default objective, score matching, without the per-rank chains
    _wait(_start(tmp_path, tmp_path / "one", "--steps", "4", *dsm),
          _start(tmp_path, tmp_path / "two", "--steps", "4", *dsm, procs=2))
    one, two = _raw(tmp_path / "one"), _raw(tmp_path / "two")
    cfg = load_run(tmp_path / "one").config
    torch.manual_seed(cfg.train.seed)  # the initial weights, as the trainer builds them
    start = {f"extra.raw.{k}": v for k, v in build_model(cfg).state_dict().items() if f"extra.raw.{k}" in one}
    assert set(start) == set(one)
    moved = _distance(one, start)
    assert moved > 1e-3  # training moved the weights ...
    assert _distance(two, one) < 0.02 * moved  # ... and two processes moved them where one did (Adam: ~0.3 %)
    assert load_run(tmp_path / "two").model_step == 4  # the run opens like any other
    assert (tmp_path / "two" / "metrics.csv").read_text().count("\n") == 5  # rank 0 logged every step once


def test_a_two_process_run_resumes_exactly_with_every_ranks_chains(tmp_path, capsys):
    cd = ["--set", "train.objective=cd", "--set", "train.buffer_size=64", "--set", "sampler.steps=5"]
    _wait(_start(tmp_path, tmp_path / "straight", "--steps", "4", *cd, procs=2),
          _start(tmp_path, tmp_path / "resumed", "--steps", "2", *cd, procs=2))
    half = load_file(str(tmp_path / "resumed" / "trainer.safetensors"))
    assert half["shard0.buffer"].shape == half["shard1.buffer"].shape == (32, 1, 28, 28)  # each rank's shard
    assert not torch.equal(half["shard0.buffer"], half["shard1.buffer"])
    _wait(_start(tmp_path, tmp_path / "resumed", "--steps", "2", "--resume", procs=2))
    a = load_file(str(tmp_path / "straight" / "trainer.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "trainer.safetensors"))
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "resumed"), "--steps", "1", "--resume", "--quiet"]) == 2
    assert "--nproc_per_node=2" in capsys.readouterr().err  # one process cannot continue two ranks' chains


def test_ddp_outside_torchrun_is_a_clear_error(tmp_path):
    assert main(["train", "--out", str(tmp_path / "r"), "--ddp", "--steps", "1"]) == 2
