"""TensorBoard event files of a training run, read back with TensorBoard's own reader."""

import csv

import numpy as np
import pytest

from ebm_studio.cli import main
from ebm_studio.core import event_log
from ebm_studio.core.event_log import EVENTS_DIR, EventLog

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(run_dir):
    acc = event_accumulator.EventAccumulator(str(run_dir / EVENTS_DIR), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_train_writes_the_metrics_and_a_sample_grid(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "4", "--limit", "300", "--batch-size", "16", "--width", "4",
                 "--prior-components", "4", "--images-every", "2", "--quiet"]) == 0
    acc = _read(run)
    tags = acc.Tags()
    assert set(event_log.SCALARS.values()) <= set(tags["scalars"])
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [e.value for e in loss] == pytest.approx([float(r["loss"]) for r in rows], rel=1e-6)
    lr = acc.Scalars("train/learning_rate")
    assert [e.value for e in lr] == pytest.approx([float(r["lr"]) for r in rows], rel=1e-6)
    assert [e.step for e in acc.Images("samples")] == [2, 4]  # a grid of 16 samples every 2 steps
    assert acc.Images("samples")[0].width == 4 * 28 + 5 * 2
    # a resumed run adds to the same log; --no-tensorboard writes none
    assert main(["train", "--out", str(run), "--steps", "2", "--resume", "--quiet"]) == 0
    assert [e.step for e in _read(run).Scalars("train/loss")] == [1, 2, 3, 4, 5, 6]
    off = tmp_path / "off"
    assert main(["train", "--out", str(off), "--steps", "1", "--limit", "300", "--batch-size", "16", "--width", "4",
                 "--prior-components", "4", "--no-tensorboard", "--quiet"]) == 0
    assert (off / "metrics.csv").exists() and not (off / EVENTS_DIR).exists()


def test_divergence_events_are_counted_and_told(tmp_path):
    log = EventLog(tmp_path)
    base = {"loss": 0.5, "grad_norm": 1.0, "e_data": 0.0, "e_samples": 1.0, "seconds": 0.1, "lr": 1e-3}
    log.log_records([{**base, "step": 1, "event": None}, {**base, "step": 2, "event": "diverged: recovered"},
                     {**base, "step": 3, "event": "diverged: recovered"}])
    log.log_images("samples", np.zeros((3, 28, 28), np.float32), 3)
    log.close()
    acc = _read(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars(event_log.EVENTS_TAG)] == [(2, 1.0), (3, 2.0)]


def test_without_the_writer_every_method_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "writer_available", lambda: False)
    log = EventLog(tmp_path)
    assert not log.enabled and not log.image_due(1000)
    log.log_records([{"step": 1, "loss": 1.0}])
    log.log_images("samples", np.zeros((1, 28, 28)), 1)
    log.close()
    assert not (tmp_path / EVENTS_DIR).exists()


def test_a_run_resumed_within_the_same_second_keeps_the_first_log(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)  # both files opened in the same second
    for steps in ((1, 2), (3,)):
        log = EventLog(tmp_path)
        log.log_records([{"step": s, "loss": 0.5 * s} for s in steps])
        log.close()
    assert len(list((tmp_path / EVENTS_DIR).iterdir())) == 2
    assert [e.step for e in _read(tmp_path).Scalars("train/loss")] == [1, 2, 3]
