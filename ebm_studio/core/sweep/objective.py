"""One trial: a normal run directory, trained by the one training loop, scored by the quality meter.

The trial drives :meth:`TrainingSession.steps` (never a copy of the loop) over the space's whole
budget, so learning-rate annealing and the contrastive phase see the budget a ``train`` run would.
Between two steps, at each ``1/reports`` of the budget, it pauses the training clock (a wall-clock
budget is not spent on scoring), saves the run, draws ``meter.samples`` images with the run's own
sampler from a fixed seed, and reports their classifier-FID to Optuna; a pruner may stop the trial
there. The run stays a run directory that the studio and ``evaluate`` open like any other.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Callable

import torch

from ..families import draw_from_noise
from ..session import Budget, TrainingClock, TrainingSession
from .space import SearchSpace


def trial_dir(out: Path, number: int) -> Path:
    return Path(out) / "trials" / f"trial-{number:04d}"


def fid_of(trainer, meter, n: int, seed: int) -> float:
    """The meter's classifier-FID of ``n`` samples of the trainer's model (its own sampler, seed ``seed``),
    leaving the global random state as it was."""
    devices = [trainer.device] if torch.device(trainer.device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        samples = draw_from_noise(trainer.export_model(), trainer.cfg, n, seed=seed, device=trainer.device)
    return float(meter.evaluate(samples.cpu()).fid)


def run_trial(trial, space: SearchSpace, out: Path, meter, pruned: type[Exception],
              log: Callable[[str], None] = lambda text: None) -> float:
    """Train and score one Optuna ``trial``; raises ``pruned`` (Optuna's TrialPruned) when its pruner
    says so, after saving the run. Returns the final FID (lower is better)."""
    values = space.suggest(trial)
    cfg = space.config(values)
    run_dir = trial_dir(out, trial.number)
    trial.set_user_attr("run_dir", str(run_dir))
    budget = Budget(steps=space.steps, epochs=space.epochs, minutes=space.minutes)
    session = TrainingSession(cfg, run_dir=run_dir, autosave_minutes=0, tensorboard=False)
    clock = TrainingClock()
    trainer = session.trainer
    started, done, reported = clock(), 0, 0
    try:
        with closing(session.steps(budget, clock=clock)) as steps:
            for _ in steps:
                done += 1
                spent = budget.progress(done, trainer.step / trainer.steps_per_epoch, 0.0, started, clock())
                due = min(space.reports - 1, int((spent or 0.0) * space.reports + 1e-9))
                if due > reported:  # an intermediate report; the last one follows the loop
                    reported = due
                    clock.pause()
                    fid = _report(trial, session, meter, space, reported, log)
                    if trial.should_prune():
                        log(f"trial {trial.number}: pruned at report {reported} (FID {fid:.2f})")
                        trial.set_user_attr("pruned_at_step", trainer.step)
                        raise pruned(f"FID {fid:.2f} at report {reported}")
                    clock.resume()
        fid = _report(trial, session, meter, space, space.reports, log)
        return fid
    finally:
        session.close()


def _report(trial, session: TrainingSession, meter, space: SearchSpace, index: int, log) -> float:
    session.save()
    fid = fid_of(session.trainer, meter, space.meter_samples, space.meter_seed)
    trial.report(fid, step=index)
    trial.set_user_attr("steps", session.trainer.step)
    log(f"trial {trial.number}: report {index}/{space.reports} at step {session.trainer.step}: FID {fid:.2f}")
    return fid
