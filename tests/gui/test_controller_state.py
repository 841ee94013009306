"""The studio's state without widgets: what every view renders, and the rules that keep it honest."""

import sys
import time

import numpy as np
import pytest

from ebm_studio.controller import Job, JobCancelled, JobList, SampleSet, StudioController
from ebm_studio.core.config import RunConfig


class Recorder:
    def __init__(self, *events):
        self.calls = []
        for name, ev in events:
            ev.connect(lambda *a, name=name: self.calls.append(name))


def test_the_controller_imports_no_qt():
    import subprocess

    code = ("import sys, ebm_studio.controller; "
            "print([m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'ebm_studio.gui'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_opening_another_model_clears_samples_evaluation_and_step():
    c = StudioController()
    cfg = RunConfig()
    c.show_model("model-a", cfg, "run", "/runs/a", last_step=21256)
    assert c.step == 21256 and c.start_mode == "continue"
    c.show_samples(SampleSet(np.zeros((4, 28, 28), np.float32), "4 samples", "model"))
    c.set_evaluation("report")
    rec = Recorder(("model", c.model_changed), ("samples", c.samples_changed), ("eval", c.evaluation_changed),
                   ("progress", c.progress_changed))
    rbm = RunConfig().with_overrides(**{"model.family": "rbm"})
    c.show_model("model-b", rbm, "pretrained", "/shipped/rbm")
    assert c.step is None and c.steps_per_s is None  # no step count of the previous model
    assert len(c.samples.images) == 0 and c.evaluation is None
    assert {"model", "samples", "eval", "progress"} <= set(rec.calls)
    assert c.start_mode == "new"  # a shipped model is shown, not continued


def test_speed_is_shown_only_while_running_and_a_new_run_starts_at_step_0():
    c = StudioController()
    c.show_model("m", RunConfig(), "run", "/runs/a", last_step=500)
    c.begin_run("/runs/new", continuing=False)
    assert c.step == 0 and c.run_state == "starting"
    c.set_run_state("running")
    t = time.monotonic()
    c.add_records([{"step": 10, "epoch": 0.1}], now=t)
    c.add_records([{"step": 30, "epoch": 0.3}], now=t + 2.0)
    assert c.steps_per_s == pytest.approx(10.0)
    c.set_run_state("paused")
    assert c.steps_per_s is None
    c.set_run_state("running")
    c.add_records([{"step": 31, "epoch": 0.31}], now=t + 3.0)
    c.set_run_state("stopped")
    assert c.steps_per_s is None and c.step == 31


def test_only_the_models_own_samples_may_be_scored():
    imgs = np.random.rand(8, 28, 28).astype(np.float32)
    assert SampleSet(imgs, "live", "live").from_model is False  # e.g. DSM's denoised training digits
    assert SampleSet(imgs, "recon", "reconstruction").from_model is False
    assert SampleSet(imgs, "fresh", "model").from_model and SampleSet(imgs, "shipped", "shipped").from_model
    c = StudioController()
    c.show_samples(SampleSet(imgs, "fresh", "model"))
    c.set_evaluation("report")
    c.show_samples(SampleSet(imgs, "live", "live"))
    assert c.evaluation is None  # a score goes with the samples it scored


def test_start_plan_is_the_default_recipe_unless_chosen_otherwise():
    c = StudioController()
    shipped = RunConfig().with_overrides(**{"model.width": 64})
    c.show_model("shipped", shipped, "pretrained", "/shipped/conv")
    panel = RunConfig()
    plan = c.start_plan(panel)
    assert plan.mode == "new" and plan.cfg.model.width == RunConfig().model.width
    assert "continue" not in c.available_start_modes()
    c.set_start_mode("fine-tune")
    plan = c.start_plan(panel)
    assert plan.mode == "fine-tune" and plan.cfg.model.width == 64 and plan.source_model == "shipped"
    c.show_model(None, None, "none")
    with pytest.raises(Exception, match="load or train one first"):
        c.start_plan(panel)
    c.show_model("run", shipped, "run", "/runs/a")
    assert c.start_plan(panel).mode == "continue" and str(c.start_plan(panel).run_dir) == "/runs/a"


def test_dataset_choice_is_announced_once():
    c = StudioController()
    seen = []
    c.dataset_changed.connect(seen.append)
    c.set_dataset("/drawings")
    c.set_dataset("/drawings")
    c.set_dataset("")
    assert seen == ["/drawings", "mnist"]


def test_a_job_reports_progress_time_left_and_cancels_between_steps():
    job = Job("generating", 100)
    job.started -= 10.0
    job.advance(25)
    assert job.fraction == 0.25 and job.seconds_left() == pytest.approx(30.0, abs=0.5)
    assert "25%" in job.describe()
    closed = []

    def steps():
        try:
            for i in range(1, 1000):
                yield type("P", (), {"done": i, "total": 1000, "result": None})()
        finally:
            closed.append(True)

    job2 = Job("draw")
    seen = []

    def cancel_at_5():
        for rec in steps():
            seen.append(rec.done)
            if rec.done == 5:
                job2.cancel()
            yield rec

    with pytest.raises(JobCancelled):
        job2.drive(cancel_at_5())
    assert seen[-1] == 5 and closed  # stopped within one step and the generator was closed


def test_job_list_cancels_everything_in_flight():
    jobs = JobList()
    changes = []
    jobs.changed.connect(lambda: changes.append(len(jobs)))
    a, b = jobs.begin("a"), jobs.begin("b")
    assert jobs.cancel_all() == 2 and a.cancelled and b.cancelled
    jobs.end(a)
    jobs.end(b)
    assert changes == [1, 2, 1, 0]


def test_cancel_calls_the_jobs_own_stop_once():
    stops = []
    jobs = JobList()
    job = jobs.begin("preparing", on_cancel=lambda: stops.append(1))
    job.cancel()
    job.cancel()
    assert stops == [1] and job.cancelled
