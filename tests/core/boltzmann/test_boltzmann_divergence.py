"""Boltzmann machines' divergence bound: a runaway learning rate is caught (even inside the guard's
warm-up, where no energy history exists yet), and the shipped recipes never trip it."""

import pytest

from ebm_studio.cli import main
from ebm_studio.core.families import make_trainer
from ebm_studio.core.metrics_log import read_metrics
from ebm_studio.core.presets import preset_config


def test_rbm_at_lr_10_records_a_divergence_and_recovers(mnist_small):
    cfg = preset_config("rbm").with_overrides(**{"train.lr": 10.0, "train.lr_decay": 0.0})
    tr = make_trainer(cfg, mnist_small.images)
    records = list(tr.steps(60))
    events = [r.event for r in records if r.event and "diverged" in r.event]
    assert events and "weights grew" in events[0]
    assert records[0].step < tr.guard.warmup  # caught where the energy-spike test is still blind
    assert tr.lr < 10.0  # recovered by cooling down
    assert tr.weight_scale() <= tr.max_weight  # never trained on past the bound


@pytest.mark.parametrize("family", ["rbm", "rbm-centred", "hopfield", "sparse-rbm", "dbm"])
def test_recipes_at_their_own_rate_never_trip_the_guard(family, mnist_small):
    tr = make_trainer(preset_config(family), mnist_small.images)
    records = list(tr.steps(150))
    assert tr.guard.divergences == 0
    assert not any(r.event and "diverged" in r.event for r in records)
    assert tr.weight_scale() < tr.max_weight / 2


def test_cli_train_rbm_at_lr_10_logs_the_event(tmp_path, capsys):
    out = tmp_path / "R"
    main(["train", "--model", "rbm", "--lr", "10", "--steps", "30", "--out", str(out)])
    assert "diverged (weights grew" in capsys.readouterr().err
    assert any("diverged" in (row.get("event") or "") for row in read_metrics(out / "metrics.csv"))
