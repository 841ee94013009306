"""Divergence detection and recovery for any :class:`~ebm_studio.core.trainer.StepTrainer`.

EBM training is famously unstable: energies can run away or turn into NaN within a few steps.
The guard keeps an in-memory snapshot of the last good state (weights, optimizer moments and the
family's extras such as the replay buffer) and, when a step produces non-finite values, restores
it and halves the learning rate, so training carries on instead of dying, and no work is lost.
"""

from __future__ import annotations

import copy
import math
from typing import Any


class DivergenceGuard:
    def __init__(self, snapshot_every: int = 25):
        self.snapshot_every = snapshot_every
        self.snapshot: dict[str, Any] | None = None
        self.recoveries = 0

    def before_step(self, trainer) -> None:
        if self.snapshot is None or trainer.step % self.snapshot_every == 0:
            if trainer.params_finite():  # never overwrite a good snapshot with a broken state
                self.snapshot = {
                    "model": copy.deepcopy(trainer.model.state_dict()),
                    "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
                    "extra": trainer.extra_state(),
                    "step": trainer.step,
                }

    def after_step(self, trainer, record) -> None:
        values = (record.loss, record.grad_norm, record.e_data, record.e_samples)
        if all(math.isfinite(v) for v in values) and trainer.params_finite():
            return
        record.event = self.recover(trainer)

    def recover(self, trainer) -> str:
        snap = self.snapshot
        self.recoveries += 1
        if snap is None:
            raise FloatingPointError("training diverged before any good state existed")
        trainer.model.load_state_dict(snap["model"])
        trainer.optimizer.load_state_dict(snap["optimizer"])
        trainer.restore_extra(snap["extra"])
        new_lr = trainer.lr * 0.5
        trainer.set_lr(new_lr)
        return (f"diverged (non-finite values); restored the state of step {snap['step']} "
                f"and halved the learning rate to {new_lr:.3g}")
