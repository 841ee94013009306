"""A training session: trainer + run directory + metrics log + autosave + budget.

Both the CLI (``ebm-studio train``) and the GUI's worker thread drive training through this one
object, so saving, resuming and stopping behave identically everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from .checkpoint import CONFIG_FILE, METRICS_FILE, MetricsLog, load_run, resume_trainer, save_run
from .config import RunConfig
from .data import MIN_TRAINING_IMAGES, load_dataset
from .errors import CheckpointError, ConfigError
from .families import build_model, make_trainer
from .run_lock import RunLock
from .trainer import CSV_FIELDS, TrainRecord


@dataclass
class Budget:
    """How long to train: any of steps, epochs (passes over the data) or wall-clock minutes."""

    steps: int | None = None
    epochs: float | None = None
    minutes: float | None = None

    def exhausted(self, steps_done: int, epoch: float, start_epoch: float, started: float) -> bool:
        if self.steps is not None and steps_done >= self.steps:
            return True
        if self.epochs is not None and epoch - start_epoch >= self.epochs - 1e-9:
            return True
        if self.minutes is not None and time.monotonic() - started >= self.minutes * 60.0:
            return True
        return False

    def progress(self, steps_done: int, epoch: float, start_epoch: float, started: float) -> float | None:
        """The fraction of the budget spent (the limit nearest to running out), None without one."""
        parts = []
        if self.steps is not None:
            parts.append(steps_done / max(self.steps, 1))
        if self.epochs is not None:
            parts.append((epoch - start_epoch) / max(self.epochs, 1e-9))
        if self.minutes is not None:
            parts.append((time.monotonic() - started) / max(self.minutes * 60.0, 1e-9))
        return min(1.0, max(parts)) if parts else None


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


def transfer_config(source: RunConfig, target: RunConfig) -> RunConfig:
    """The config of a run that fine-tunes a ``source`` model on ``target``'s data and budget: the
    architecture, the noise levels and sampler the weights were trained for, and the objective
    come from the source; data, optimiser settings and seed from the target."""
    raw, src = target.to_dict(), source.to_dict()
    raw["model"], raw["sampler"] = src["model"], src["sampler"]
    raw["train"]["objective"] = src["train"]["objective"]
    return RunConfig.from_dict(raw)


class TrainingSession:
    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, resume: bool = False,
                 device: torch.device | str | None = None, data: torch.Tensor | None = None,
                 autosave_minutes: float = 5.0, init_model: torch.nn.Module | None = None,
                 fresh_optimizer: bool = False):
        """``init_model``: start from these weights instead of a fresh model (transfer / fine-tuning);
        its architecture must be the one ``cfg`` describes (:func:`transfer_config` makes sure)."""
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.autosave_minutes = autosave_minutes
        self.notice: str | None = None  # something the user should be told (a fresh optimiser, a log set aside)
        self.lock = RunLock(self.run_dir).acquire() if self.run_dir is not None else None  # one writer per run
        if resume:
            if self.run_dir is None or not (self.run_dir / CONFIG_FILE).exists():
                raise CheckpointError(f"{self.run_dir}: nothing to resume (no {CONFIG_FILE})")
            run = load_run(self.run_dir, device="cpu", with_trainer_state=True)
            cfg = run.config
            self.cfg = cfg
            self.data = data if data is not None else self._load_data(cfg)
            self.trainer = resume_trainer(run, self.data, device=device, fresh_optimizer=fresh_optimizer)
            self.notice = run.notice
        else:
            self.cfg = cfg.copy().validate()
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
        self.log = MetricsLog(self.run_dir / METRICS_FILE, CSV_FIELDS) if self.run_dir else None
        if self.log is not None:
            self.log.truncate_after(self.trainer.step)
            if self.log.problem:
                self.notice = f"{self.log.problem}; set aside as {self.log.set_aside_to}, a new log begun"
        self._last_save = time.monotonic()
        self.paused_by_divergence = False

    @staticmethod
    def _load_data(cfg: RunConfig) -> torch.Tensor:
        d = cfg.data
        return load_dataset(d.source, "train", d.digits, d.limit, min_images=MIN_TRAINING_IMAGES).images

    def run(self, budget: Budget, should_stop=lambda: False) -> Iterator[TrainRecord]:
        """Train until the budget is spent or ``should_stop()``; yields every record."""
        started = time.monotonic()
        start_epoch = self.trainer.step / self.trainer.steps_per_epoch
        done = 0
        try:
            while not should_stop() and not budget.exhausted(done, self.trainer.step / self.trainer.steps_per_epoch,
                                                             start_epoch, started):
                if has_budget_schedule(self.trainer.cfg):
                    spent = budget.progress(done, self.trainer.step / self.trainer.steps_per_epoch, start_epoch, started)
                    apply_budget_schedule(self.trainer, spent)
                record = self.trainer.train_step()
                done += 1
                self.record(record)
                yield record
                self.maybe_autosave()
                if self.trainer.guard.take_pause_request():  # train.on_divergence = "pause": hand back to the user
                    self.paused_by_divergence = True
                    return
        finally:
            end_budget_schedule(self.trainer)  # the annealing and the phase belong to this budget, not to the run

    def record(self, record: TrainRecord) -> None:
        if self.log is not None:
            self.log.append(record.as_dict())

    def maybe_autosave(self) -> bool:
        if self.run_dir is None or self.autosave_minutes <= 0:
            return False
        if time.monotonic() - self._last_save >= self.autosave_minutes * 60.0:
            self.save()
            return True
        return False

    def save(self, run_dir: str | Path | None = None) -> Path:
        target = Path(run_dir) if run_dir is not None else self.run_dir
        if target is None:
            raise CheckpointError("no run directory chosen to save into")
        save_run(target, self.trainer.export_model(), self.trainer.cfg, trainer=self.trainer)
        if self.log is not None and target == self.run_dir:
            self.log.flush()
        elif self.log is not None:
            copy = MetricsLog(target / METRICS_FILE, CSV_FIELDS)
            copy.rows = list(self.log.rows)
            copy.flush()
        self._last_save = time.monotonic()
        return target

    def close(self) -> None:
        """Let another process write the run (the lock is also released when this process ends)."""
        if self.lock is not None:
            self.lock.release()
