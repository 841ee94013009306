"""A training session: trainer + run directory + metrics log + autosave + budget.

The one training loop of the project is :meth:`TrainingSession.steps`, a step generator: the CLI
(``ebm-studio train``) drives it to the end, the studio's worker thread drives it with ``next()``
and pauses, single-steps, stops or changes settings between two calls, and tests drive it by hand.
So budgets, schedules, records, autosaves, the divergence policy and the recovery from a failed
step behave identically everywhere.

A run is never lost: a new run's directory and ``config.toml`` are written before anything slow
(data loading, the base energy's fit), the first checkpoint right after the model is built, and
then one every :data:`AUTOSAVE_MINUTES` of training, so a kill loses at most one interval. The
metrics are written before the checkpoint, so a checkpoint never has fewer logged steps than
itself (rows after it are dropped on resume). Each save runs in a
:func:`~.stop_signals.critical_section`, so a second Ctrl-C waits for it to finish.

Under torchrun (data-parallel, :mod:`.distributed`) every rank runs this same loop; only rank 0
holds the run's lock and writes its files, the ranks agree at every step whether to stop or save,
and a save gathers every rank's chains into rank 0's checkpoint.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from . import distributed
from .boltzmann.stacking import dbm_on_rbm, stacked_config, stacks_on
from .checkpoint import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAINER_FILE,
    MetricsLog,
    load_run,
    resume_trainer,
    save_run,
)
from .config import RunConfig, load_config, save_config
from .data import MIN_TRAINING_IMAGES, load_dataset
from .errors import CheckpointError, ConfigError, OutOfMemory
from .event_log import EventLog
from .families import build_model, draw_from_noise, make_trainer
from .run_lock import RunLock
from .stop_signals import critical_section
from .tensor_files import load_tensors
from .trainer import CSV_FIELDS, TrainRecord

AUTOSAVE_MINUTES = 1.0  # a kill -9 loses at most this much training (the README's "never lose a run")


@dataclass
class Budget:
    """How long to train: any of steps, epochs (passes over the data) or wall-clock minutes."""

    steps: int | None = None
    epochs: float | None = None
    minutes: float | None = None

    def exhausted(self, steps_done: int, epoch: float, start_epoch: float, started: float,
                  now: float | None = None) -> bool:
        """``now`` and ``started`` are readings of one clock (``time.monotonic`` unless given)."""
        now = time.monotonic() if now is None else now
        if self.steps is not None and steps_done >= self.steps:
            return True
        if self.epochs is not None and epoch - start_epoch >= self.epochs - 1e-9:
            return True
        if self.minutes is not None and now - started >= self.minutes * 60.0:
            return True
        return False

    def progress(self, steps_done: int, epoch: float, start_epoch: float, started: float,
                 now: float | None = None) -> float | None:
        """The fraction of the budget spent (the limit nearest to running out), None without one."""
        now = time.monotonic() if now is None else now
        parts = []
        if self.steps is not None:
            parts.append(steps_done / max(self.steps, 1))
        if self.epochs is not None:
            parts.append((epoch - start_epoch) / max(self.epochs, 1e-9))
        if self.minutes is not None:
            parts.append((now - started) / max(self.minutes * 60.0, 1e-9))
        return min(1.0, max(parts)) if parts else None


class TrainingClock:
    """Seconds of training, not counting pauses: what a wall-clock budget spends. A run paused
    for lunch still gets its whole budget, and its schedule (annealing, contrastive phase) does
    not jump ahead while it waits. The CLI never pauses, so for it this is plain elapsed time."""

    def __init__(self):
        self._origin = time.monotonic()
        self._paused_at: float | None = None

    def __call__(self) -> float:
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return now - self._origin

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._origin += time.monotonic() - self._paused_at
            self._paused_at = None


@dataclass
class SessionStep:
    """What one ``next()`` of :meth:`TrainingSession.steps` yields: the step's record and what the
    session did around it. A driver that cannot pause (the CLI) stops at ``pause_requested``."""

    record: TrainRecord
    saved: Path | None = None  # the run directory, when an autosave followed this step
    pause_requested: bool = False  # train.on_divergence = "pause": the state was restored, the user decides
    diverged: bool = False  # the divergence guard acted on this step (its event says how)


def anneal_scale(progress: float | None, fraction: float) -> float:
    """``train.lr_anneal``: the learning-rate factor at this point of a budgeted run: 1 until the
    last ``fraction`` of the budget, then a straight line down to 0 at its end (the "decay" phase
    of a warmup-stable-decay schedule, Hägele et al. 2024: most of the gain of a fully annealed
    run, while the budget may be a wall-clock one whose step count nobody knows in advance)."""
    if progress is None or fraction <= 0.0:
        return 1.0
    return max(0.0, min(1.0, (1.0 - progress) / fraction))


REFINE_LR_FACTOR = 0.1  # the contrastive phase runs at a tenth of the rate, as the shipped model's refinement did


def in_contrast_phase(progress: float | None, fraction: float) -> bool:
    """``train.contrast_phase``: whether this point of a budgeted run is in its last ``fraction``,
    where a DSM run adds the contrastive term (never without a budget: there is no end to count from)."""
    return progress is not None and fraction > 0.0 and progress >= 1.0 - fraction


def has_budget_schedule(cfg) -> bool:
    return cfg.train.lr_anneal > 0 or (cfg.train.contrast_phase > 0 and cfg.train.contrast > 0)


def apply_budget_schedule(trainer, progress: float | None) -> None:
    """Set what depends on how much of the budget is spent: the annealed learning rate and, in the
    contrastive phase, the term switched on and the rate cut to a tenth. Shared by the CLI's
    session and the studio's worker so both train the same way."""
    t = trainer.cfg.train
    refining = t.contrast > 0 and in_contrast_phase(progress, t.contrast_phase)
    trainer.refining = refining
    trainer.set_lr_scale(anneal_scale(progress, t.lr_anneal) * (REFINE_LR_FACTOR if refining else 1.0))


def end_budget_schedule(trainer) -> None:
    """The schedule belongs to one budget, not to the run."""
    trainer.refining = False
    trainer.set_lr_scale(1.0)


def _save_was_interrupted(run) -> bool:
    """True when a kill came between the weights and the trainer state of one save: the weights
    are of a later step than the (intact) trainer state. Resuming then continues from the newer
    weights with a new optimiser (``run.notice`` says so) instead of refusing a run that was
    only cut short; a trainer state that is corrupt or foreign is still refused."""
    if run.trainer_problem is None or run.model_step is None:
        return False
    try:
        _, info = load_tensors(run.path / TRAINER_FILE)
    except CheckpointError:
        return False
    step = info.get("step", "")
    return step.isdigit() and int(step) < run.model_step


def transfer_config(source: RunConfig, target: RunConfig) -> RunConfig:
    """The config of a run that fine-tunes a ``source`` model on ``target``'s data and budget: the
    architecture, the noise levels and sampler the weights were trained for, and the objective
    come from the source; data, optimiser settings and seed from the target."""
    raw, src = target.to_dict(), source.to_dict()
    raw["model"], raw["sampler"] = src["model"], src["sampler"]
    raw["train"]["objective"] = src["train"]["objective"]
    return RunConfig.from_dict(raw)


def start_from(source, target: RunConfig) -> tuple[RunConfig, torch.nn.Module]:
    """The config and starting weights of a run of ``target`` that begins from the loaded run
    ``source``: a DBM stacked on an RBM (boltzmann/stacking.py), else fine-tuning
    (:func:`transfer_config`)."""
    if stacks_on(source.config, target):
        cfg = stacked_config(source.config, target)
        return cfg, dbm_on_rbm(source.model, cfg)
    return transfer_config(source.config, target), source.model


class TrainingSession:
    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, resume: bool = False,
                 device: torch.device | str | None = None, data: torch.Tensor | None = None,
                 autosave_minutes: float = AUTOSAVE_MINUTES, init_model: torch.nn.Module | None = None,
                 fresh_optimizer: bool = False, tensorboard: bool = True):
        """``init_model``: start from these weights instead of a fresh model (transfer / fine-tuning);
        its architecture must be the one ``cfg`` describes (:func:`transfer_config` makes sure).
        ``autosave_minutes``: 0 turns autosaves (and the first checkpoint) off; explicit saves remain."""
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.autosave_minutes = autosave_minutes
        self.paused_by_divergence = False
        self.restored_step: int | None = None  # set when a failed step left broken weights that were restored
        self.restarted = False  # resumed a run killed before its first checkpoint: it starts again from its config
        self.notice: str | None = None  # something the user should be told (a fresh optimiser, a log set aside)
        self.writer = distributed.is_writer()  # under torchrun only rank 0 writes the run
        tensorboard = tensorboard and self.writer
        if resume and (self.run_dir is None or not (self.run_dir / CONFIG_FILE).exists()):
            raise CheckpointError(f"{self.run_dir}: nothing to resume (no {CONFIG_FILE})")
        self.lock = RunLock(self.run_dir).acquire() if self.run_dir is not None and self.writer else None  # one writer
        if resume:
            if not (self.run_dir / MODEL_FILE).exists():
                cfg, resume, self.restarted = self._config_only(self.run_dir), False, True
                self.notice = "the run was stopped before its first checkpoint: starting it again from its config"
        if resume:
            run = load_run(self.run_dir, device="cpu", with_trainer_state=True)
            cfg = run.config
            self.cfg = cfg
            self.data = data if data is not None else self._load_data(cfg)
            fresh_optimizer = fresh_optimizer or _save_was_interrupted(run)
            self.trainer = resume_trainer(run, self.data, device=device, fresh_optimizer=fresh_optimizer)
            self.notice = run.notice
        else:
            self.cfg = cfg.copy().validate()
            self._begin_run_dir()
            self.data = data if data is not None else self._load_data(self.cfg)
            model = None
            if init_model is not None:
                model = build_model(self.cfg)
                try:
                    model.load_state_dict(init_model.state_dict())
                except RuntimeError as exc:
                    raise ConfigError(f"the starting model does not fit this run's architecture: "
                                      f"{str(exc).splitlines()[0]}") from None
            self.trainer = make_trainer(self.cfg, self.data, model=model, device=device)
        self.log = MetricsLog(self.run_dir / METRICS_FILE, CSV_FIELDS) if self.run_dir and self.writer else None
        if self.log is not None:
            self.log.truncate_after(self.trainer.step)
            if self.log.problem:
                aside = f"{self.log.problem}; set aside as {self.log.set_aside_to}, a new log begun"
                self.notice = f"{self.notice}; {aside}" if self.notice else aside
        self.events = EventLog(self.run_dir, enabled=tensorboard)  # TensorBoard beside metrics.csv (if installed)
        self._last_save = time.monotonic()
        if not resume and self.run_dir is not None and self.autosave_minutes > 0:
            self.save()  # the first checkpoint (step 0): from now on the run opens and resumes

    def _begin_run_dir(self) -> None:
        """A new run: its directory and config exist from the first second, before the slow parts."""
        if self.run_dir is None or not self.writer:
            return
        if (self.run_dir / MODEL_FILE).exists() and not self.restarted:
            raise CheckpointError(f"{self.run_dir} already holds a run; resume it or choose another directory")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with critical_section():
            save_config(self.cfg, self.run_dir / CONFIG_FILE, {"step": 0, **self._save_meta()})

    @staticmethod
    def _config_only(run_dir: Path) -> RunConfig:
        try:
            return load_config(run_dir / CONFIG_FILE)
        except ConfigError as exc:
            raise CheckpointError(str(exc)) from None

    @staticmethod
    def _load_data(cfg: RunConfig) -> torch.Tensor:
        d = cfg.data
        return load_dataset(d.source, "train", d.digits, d.limit, min_images=MIN_TRAINING_IMAGES).images

    def steps(self, budget: Budget, should_stop: Callable[[], bool] = lambda: False,
              clock: Callable[[], float] | None = None) -> Iterator[SessionStep]:
        """The training loop: one :class:`SessionStep` per step until the budget is spent or
        ``should_stop()``. ``clock`` measures a wall-clock budget (a :class:`TrainingClock` that
        the driver pauses; plain elapsed time by default). If a step fails for good, broken
        weights are put back to the divergence guard's last good state before the error (an
        :class:`~.errors.EbmStudioError` for everything a user can act on) leaves the loop."""
        clock = clock or TrainingClock()
        started = clock()
        trainer = self.trainer
        start_epoch = trainer.step / trainer.steps_per_epoch
        done = 0
        try:
            while not self._agreed_stop(should_stop() or budget.exhausted(
                    done, trainer.step / trainer.steps_per_epoch, start_epoch, started, clock())):
                if has_budget_schedule(trainer.cfg):
                    spent = budget.progress(done, trainer.step / trainer.steps_per_epoch, start_epoch, started,
                                            clock())
                    apply_budget_schedule(trainer, spent)
                divergences = trainer.guard.divergences
                record = self._train_step()
                done += 1
                self.record(record)
                saved = self.run_dir if self.maybe_autosave() else None
                pause = trainer.guard.take_pause_request()
                self.paused_by_divergence = self.paused_by_divergence or pause
                yield SessionStep(record, saved, pause, trainer.guard.divergences != divergences)
        except GeneratorExit:
            raise
        except BaseException:
            self.restored_step = trainer.guard.restore_if_broken(trainer)  # never save or show NaN weights
            raise
        finally:
            end_budget_schedule(trainer)  # the annealing and the phase belong to this budget, not to the run

    @staticmethod
    def _agreed_stop(stop: bool) -> bool:
        """Under torchrun: stop when any rank stops (a signal, a clock), so all leave at one step."""
        return distributed.agree(stop)[0]

    def _train_step(self) -> TrainRecord:
        try:
            return self.trainer.train_step()
        except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
            raise OutOfMemory("the device ran out of memory: lower the batch size or the number of sampler "
                              "steps") from exc

    def run(self, budget: Budget, should_stop=lambda: False) -> Iterator[TrainRecord]:
        """The records of :meth:`steps`, ending at a divergence pause: for drivers that cannot
        pause (benchmarks, comparisons)."""
        with closing(self.steps(budget, should_stop)) as steps:
            for step in steps:
                yield step.record
                if step.pause_requested:
                    return

    def record(self, record: TrainRecord) -> None:
        if self.log is not None:
            self.log.append(record.as_dict())
        self.events.log_records([record.as_dict()])
        if self.events.image_due(record.step):
            self.events.log_images("samples", _preview(self.trainer, record.step), record.step)

    def maybe_autosave(self) -> bool:
        if self.run_dir is None or self.autosave_minutes <= 0:
            return False
        if distributed.agree(time.monotonic() - self._last_save >= self.autosave_minutes * 60.0)[0]:
            self.save()
            return True
        return False

    def _save_meta(self) -> dict:
        """What config.toml's [meta] says about saving: the autosave interval in force (0 = off)."""
        return {"autosave_minutes": float(self.autosave_minutes)}

    def save(self, run_dir: str | Path | None = None) -> Path:
        """Metrics first, then the checkpoint, inside a critical section (a stop signal waits)."""
        target = Path(run_dir) if run_dir is not None else self.run_dir
        if target is None:
            raise CheckpointError("no run directory chosen to save into")
        if not self.writer:  # another rank: give its chains to rank 0's checkpoint, write nothing
            self.trainer.state_tensors()
            self._last_save = time.monotonic()
            return target
        with critical_section():
            if self.log is not None and target == self.run_dir:
                self.log.flush()
                self.events.flush()
            elif self.log is not None:
                target.mkdir(parents=True, exist_ok=True)
                copy = MetricsLog(target / METRICS_FILE, CSV_FIELDS)
                copy.rows = list(self.log.rows)
                copy.flush()
            save_run(target, self.trainer.export_model(), self.trainer.cfg, trainer=self.trainer,
                     meta=self._save_meta())
        self._last_save = time.monotonic()
        return target

    def close(self) -> None:
        """Let another process write the run (the lock is also released when this process ends)."""
        self.events.close()
        if self.lock is not None:
            self.lock.release()


def _preview(trainer, seed: int, n: int = 16) -> torch.Tensor:
    """A few samples for the event log, drawn without touching the global random state (so a run
    with TensorBoard on trains exactly as one with it off)."""
    devices = [trainer.device] if torch.device(trainer.device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        return draw_from_noise(trainer.export_model(), trainer.cfg, n, seed=seed, device=trainer.device)
