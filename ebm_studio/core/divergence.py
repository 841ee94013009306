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

from .errors import DivergenceError


class DivergenceGuard:
    """Watches each step's record; restores and cools down on non-finite or exploding values.

    "Exploding" means an energy beyond ``max_energy`` in magnitude, or a gradient norm more than
    ``spike`` times the running median of recent healthy steps. After ``max_in_a_row``
    recoveries without a healthy stretch in between, it gives up with :class:`DivergenceError`.
    """

    def __init__(self, snapshot_every: int = 25, max_energy: float = 1e4, spike: float = 1e3,
                 max_in_a_row: int = 8):
        self.snapshot_every = snapshot_every
        self.snapshot: dict[str, Any] | None = None
        self.recoveries = 0
        self.max_energy, self.spike, self.max_in_a_row = max_energy, spike, max_in_a_row
        self._recent: list[float] = []
        self._in_a_row = 0

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
        reason = self.problem(trainer, record)
        if reason is None:
            self._recent = (self._recent + [record.grad_norm])[-50:]
            if trainer.step % self.snapshot_every == 0:
                self._in_a_row = 0
            return
        self._in_a_row += 1
        if self._in_a_row > self.max_in_a_row:
            raise DivergenceError(f"training keeps diverging ({reason}) even after {self.max_in_a_row} recoveries "
                                  "with smaller learning rates; the last good state is kept")
        record.event = self.recover(trainer, reason, factor=0.5 ** min(self._in_a_row, 3))

    def problem(self, trainer, record) -> str | None:
        values = (record.loss, record.grad_norm, record.e_data, record.e_samples)
        if not all(math.isfinite(v) for v in values) or not trainer.params_finite():
            return "non-finite values"
        if max(abs(record.e_data), abs(record.e_samples)) > self.max_energy:
            return f"energies exploded beyond {self.max_energy:g}"
        if len(self._recent) >= 10:
            median = sorted(self._recent)[len(self._recent) // 2]
            if median > 0 and record.grad_norm > self.spike * median:
                return f"gradient norm spiked to {record.grad_norm:.3g} (median {median:.3g})"
        return None

    def recover(self, trainer, reason: str = "non-finite values", factor: float = 0.5) -> str:
        """Restore the last good state and multiply the learning rate by ``factor`` (repeated
        recoveries cool down faster: /2, /4, then /8 each time)."""
        snap = self.snapshot
        current_lr = trainer.lr  # restoring the optimizer would bring back the snapshot's lr
        self.recoveries += 1
        if snap is None:
            raise FloatingPointError("training diverged before any good state existed")
        trainer.model.load_state_dict(snap["model"])
        trainer.optimizer.load_state_dict(snap["optimizer"])
        trainer.restore_extra(snap["extra"])
        new_lr = current_lr * factor
        trainer.set_lr(new_lr)
        return (f"diverged ({reason}); restored the state of step {snap['step']} "
                f"and lowered the learning rate to {new_lr:.3g}")
