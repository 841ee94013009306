"""``ebm-studio sweep``: two processes share one SQLite study; every trial is a run; the pruner acts.

Four trials are queued in the study (so which are poor is known: a single Gaussian as the base
energy, against a mixture of 8), then two ``sweep`` processes run two trials each against the same
study file, side by side. Each trial is trained by the session's loop and scored by the quality
meter (tiny budgets: 4 steps, 64 samples, a 4-step sampler).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from ebm_studio.cli import main
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.config import load_config
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.sweep.space import parse_space

optuna = pytest.importorskip("optuna")

SPACE = """
base = "dsm"
[set]
"model.width" = 8
"data.limit" = 512
"train.batch_size" = 16
"train.contrast" = 0.0
"train.device" = "cpu"
"sampler.method" = "euler"
"sampler.solver_steps" = 4
[budget]
steps = 4
reports = 2
[meter]
samples = 64
[params]
"train.lr" = { low = 1e-4, high = 3e-3, log = true }
"model.prior_components" = { choices = [1, 8] }
"""


@pytest.mark.slow
def test_two_processes_run_one_study_without_losing_or_repeating_a_trial(tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    out = tmp_path / "sweep"
    out.mkdir()
    storage = f"sqlite:///{out / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="minimize")
    for components, lr in ((8, 1e-3), (8, 2e-3), (1, 1e-3), (1, 2e-3)):  # the poor ones come last
        study.enqueue_trial({"model.prior_components": components, "train.lr": lr})
    env = dict(os.environ, OMP_NUM_THREADS="1", EBM_STUDIO_THREADS="1", EBM_STUDIO_CACHE_DIR=str(tmp_path / "c"))
    cmd = [sys.executable, "-m", "ebm_studio", "sweep", str(space), "--out", str(out), "--storage", storage,
           "--study", "s", "--trials", "2", "--pruner", "median", "--quiet"]
    workers = [subprocess.Popen([*cmd, "--no-report"], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err[-3000:]
    assert main(["sweep", str(space), "--out", str(out), "--storage", storage, "--study", "s", "--report-only",
                 "--quiet"]) == 0  # the report of the whole study, both workers' trials

    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]  # none lost, none run twice
    states = [t.state.name for t in trials]
    assert set(states) <= {"COMPLETE", "PRUNED"} and "PRUNED" in states and "COMPLETE" in states
    assert all(t.params["model.prior_components"] == 1 for t in trials if t.state.name == "PRUNED")
    run_dirs = {t.user_attrs["run_dir"] for t in trials}
    assert len(run_dirs) == 4
    for t in trials:  # every trial, pruned or not, is a run the studio and evaluate open
        run = load_run(t.user_attrs["run_dir"])
        assert run.config.model.prior_components == t.params["model.prior_components"]
        assert run.model_step == t.user_attrs["steps"]

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted(int(r["trial"]) for r in rows) == [0, 1, 2, 3]
    assert (out / "results.md").read_text().count("\n") == 6  # header, rule, four trials
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert float(rows[0]["fid"]) == pytest.approx(best.value, abs=1e-3)  # best first
    cfg = load_config(out / "best.toml")  # what train --config takes
    assert cfg.model.prior_components == best.params["model.prior_components"]
    assert cfg.train.lr == pytest.approx(best.params["train.lr"]) and cfg.model.width == 8
    assert (out / "history.html").stat().st_size > 1000


def test_a_bad_space_is_a_clear_error():
    raw = {"budget": {"steps": 4}, "params": {"train.lrr": {"low": 1e-4, "high": 1e-3}}}
    with pytest.raises(ConfigError, match="did you mean train.lr"):
        parse_space(raw)
    raw["params"] = {"train.lr": {"low": 1e-3, "high": 1e-4}}
    with pytest.raises(ConfigError, match="low < high"):
        parse_space(raw)
    raw["params"] = {"model.width": {"low": 8.5, "high": 16}}
    with pytest.raises(ConfigError, match="integer key"):
        parse_space(raw)
    raw["params"] = {"train.optimizer": {"choices": ["adam", "lion"]}}
    with pytest.raises(ConfigError, match="lion"):
        parse_space(raw)
    raw = {"params": {"train.lr": {"low": 1e-4, "high": 1e-3, "log": True}}}
    with pytest.raises(ConfigError, match="exactly one of steps"):
        parse_space(raw)


def test_a_good_space_reads_types_and_scales():
    space = parse_space({"budget": {"minutes": 0.5, "reports": 4}, "set": {"data.limit": 100},
                         "params": {"train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
                                    "model.width": {"low": 8, "high": 32, "step": 8},
                                    "train.optimizer": {"choices": ["adam", "sgd"]}}})
    kinds = {p.key: (p.kind, p.log) for p in space.params}
    assert kinds == {"train.lr": ("float", True), "model.width": ("int", False), "train.optimizer": ("choice", False)}
    assert space.minutes == 0.5 and space.steps is None and space.reports == 4
    cfg = space.config({"train.lr": 5e-4, "model.width": 16, "train.optimizer": "sgd"})
    assert (cfg.data.limit, cfg.model.width, cfg.train.optimizer) == (100, 16, "sgd")


def test_without_optuna_the_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    (tmp_path / "s.toml").write_text(SPACE)
    assert main(["sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "pip install 'ebm-studio[sweep]'" in capsys.readouterr().err
