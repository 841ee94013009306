"""The studio's state in one object: the model shown, the run, the samples on screen, the last
evaluation, the dataset and the jobs in flight, each change announced by an :class:`Event`.

The rules that keep the views honest live here, not in the widgets:

- showing another model (opened, shipped, or a snapshot of the run) clears the samples and the
  evaluation of the previous one and sets the step read-out to that model's own history;
- a new run starts at step 0; the speed is only shown while the run is running;
- an evaluation belongs to the samples it scored and goes when they go; only samples drawn by
  the model's own sampler may be scored (:attr:`SampleSet.from_model`);
- what Start does is a :class:`StartPlan` chosen explicitly ("new", "continue", "fine-tune"),
  and a shipped model shown starts a new run of the default recipe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import EbmStudioError
from ..core.session import transfer_config
from .events import Event
from .jobs import JobList

RUN_STATES = ("idle", "starting", "running", "pausing", "paused", "stopping", "stopped", "error")
ACTIVE_STATES = ("starting", "running", "pausing", "paused", "stopping")
RATE_WINDOW_S = 3.0
START_MODES = {
    "new": "New run: the recipe below",
    "continue": "Continue this run",
    "fine-tune": "Fine-tune the model shown",
}


class StartError(EbmStudioError):
    """Start cannot do what was chosen (e.g. fine-tune with no model shown)."""


@dataclass
class ShownModel:
    """The model the Samples and Canvas views use (a CPU copy) and where it came from."""

    model: object = None
    cfg: object = None
    origin: str = "none"  # none | pretrained | run | file | training
    path: Path | None = None

    @property
    def family(self) -> str | None:
        return None if self.cfg is None else self.cfg.model.family


@dataclass
class SampleSet:
    """Images on the Samples view and, in words, what they are."""

    images: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.float32))
    caption: str = ""
    kind: str = "none"  # none | shipped | live | model | reconstruction
    steps: int | None = None  # sampler steps that drew them, when known

    @property
    def from_model(self) -> bool:
        """Drawn by the model's own sampler from noise (what the quality meter may score)."""
        return self.kind in ("model", "shipped") and len(self.images) >= 2


@dataclass
class StartPlan:
    mode: str  # new | continue | fine-tune
    cfg: object = None  # the config of a new / fine-tuning run
    run_dir: Path | None = None  # the run to continue
    source_model: object = None  # the weights a fine-tuning run starts from
    note: str = ""


class StudioController:
    def __init__(self) -> None:
        self.shown = ShownModel()
        self.session = None  # core TrainingSession of the run in this window (continued by Start)
        self.run_cfg = None  # the config in force in that run (live edits included)
        self.run_state = "idle"
        self.run_path: Path | None = None
        self.step: int | None = None
        self.epoch: float | None = None
        self.steps_per_s: float | None = None
        self._marks: list[tuple[float, int]] = []
        self.samples = SampleSet()
        self.evaluation = None
        self.dataset = "mnist"
        self.start_mode = "new"
        self.jobs = JobList()
        self.model_changed = Event()
        self.run_changed = Event()  # state, run path
        self.progress_changed = Event()  # step, epoch, speed
        self.samples_changed = Event()
        self.evaluation_changed = Event()
        self.dataset_changed = Event()
        self.start_mode_changed = Event()

    # --- the model shown -------------------------------------------------------------------------
    def show_model(self, model, cfg, origin: str, path: Path | None = None, last_step: int | None = None,
                   samples: SampleSet | None = None) -> None:
        """A model from disk, the shipped one or a new run's: every view follows, nothing stale stays."""
        self.shown = ShownModel(model, cfg, origin, None if path is None else Path(path))
        if origin != "training":
            self.step, self.epoch = last_step, None
            self._set_speed(None)
            self.progress_changed.emit()
        self.model_changed.emit(self.shown)
        self.show_samples(samples or SampleSet())
        if origin in ("run", "file"):
            self.set_start_mode("continue")  # opening a run folder or checkpoint is asking to go on with it
        elif self.start_mode == "continue" and origin != "training":
            self.set_start_mode("new")  # a shipped model is shown, not continued: Start trains the recipe
        else:
            self.start_mode_changed.emit()

    def update_snapshot(self, model, cfg) -> None:
        """A fresh copy of the weights being trained (paused, stepped or stopped): same run, new weights.
        Samples drawn from the older weights stay on screen with their caption; a score goes."""
        self.shown = ShownModel(model, cfg, "training", self.run_path)
        self.model_changed.emit(self.shown)

    # --- the run ---------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.run_state in ACTIVE_STATES

    def begin_run(self, run_path: Path | None, continuing: bool) -> None:
        self.run_path = None if run_path is None else Path(run_path)
        if not continuing:
            self.step, self.epoch = 0, 0.0
        self._marks = []
        self._set_speed(None)
        self.progress_changed.emit()
        self.set_run_state("starting")

    def attach_session(self, session, cfg) -> None:
        self.session, self.run_cfg = session, cfg
        self.run_path = Path(session.run_dir)
        if self.step is None or self.step == 0:
            self.step = int(session.trainer.step)
            self.progress_changed.emit()
        self.run_changed.emit()

    def set_run_state(self, state: str) -> None:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}")
        self.run_state = state
        if state != "running":
            self._marks = []
            self._set_speed(None)
            self.progress_changed.emit()
        self.run_changed.emit()

    def add_records(self, records: list[dict], now: float | None = None) -> None:
        if not records:
            return
        last = records[-1]
        now = time.monotonic() if now is None else now
        self.step, self.epoch = int(last["step"]), float(last.get("epoch", 0.0))
        self._marks.append((now, self.step))
        self._marks = [m for m in self._marks if now - m[0] <= RATE_WINDOW_S]
        if self.run_state == "running" and len(self._marks) >= 2 and self._marks[-1][0] > self._marks[0][0]:
            (t0, s0), (t1, s1) = self._marks[0], self._marks[-1]
            self.steps_per_s = (s1 - s0) / (t1 - t0)
        self.progress_changed.emit()

    def _set_speed(self, value: float | None) -> None:
        self.steps_per_s = value

    def forget_run(self) -> None:
        """Reset: the next Start begins a new run; the model shown stays."""
        self.session, self.run_cfg, self.run_path = None, None, None
        self.step = self.epoch = None
        self._set_speed(None)
        self.run_state = "idle"
        if self.start_mode == "continue":
            self.start_mode = "new"
            self.start_mode_changed.emit()
        self.progress_changed.emit()
        self.run_changed.emit()

    # --- what Start does -------------------------------------------------------------------------
    def available_start_modes(self) -> list[str]:
        modes = ["new"]
        if self.session is not None or (self.shown.origin in ("run", "file") and self.shown.path is not None):
            modes.append("continue")
        if self.shown.model is not None:
            modes.append("fine-tune")
        return modes

    def set_start_mode(self, mode: str) -> None:
        if mode not in START_MODES:
            raise ValueError(f"unknown start mode {mode!r}")
        if mode == "continue" and mode not in self.available_start_modes():
            mode = "new"
        self.start_mode = mode
        self.start_mode_changed.emit()

    def start_plan(self, panel_cfg) -> StartPlan:
        """What Start does now. ``panel_cfg``: the Training panel's config (a new run's recipe)."""
        mode = self.start_mode
        if mode == "continue" and mode not in self.available_start_modes():
            mode = "new"
        if mode == "fine-tune" and self.shown.model is None:
            raise StartError("fine-tuning starts from the model shown: load or train one first")
        if mode == "continue":
            if self.session is not None:
                return StartPlan("continue", run_dir=Path(self.session.run_dir), note="continuing this run")
            return StartPlan("continue", run_dir=self.shown.path, note=f"continuing run {self.shown.path}")
        if mode == "fine-tune":
            cfg = transfer_config(self.shown.cfg, panel_cfg)
            return StartPlan("fine-tune", cfg=cfg, source_model=self.shown.model,
                             note="fine-tuning the model shown")
        return StartPlan("new", cfg=panel_cfg, note="a new run of the recipe in the Training panel")

    # --- samples and their evaluation ------------------------------------------------------------
    def show_samples(self, samples: SampleSet) -> None:
        self.samples = samples
        self.samples_changed.emit(samples)
        self.set_evaluation(None)

    def set_evaluation(self, report) -> None:
        self.evaluation = report
        self.evaluation_changed.emit(report)

    # --- data ------------------------------------------------------------------------------------
    def set_dataset(self, source: str) -> None:
        source = source or "mnist"
        if source != self.dataset:
            self.dataset = source
            self.dataset_changed.emit(source)
