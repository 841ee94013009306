"""Divergence detection and recovery for any :class:`~ebm_studio.core.trainer.StepTrainer`.

EBM training is famously unstable: energies can run away or turn into NaN within a few steps.
The guard keeps an in-memory snapshot of the last good state (weights, optimizer moments and the
family's extras such as the replay buffer or the EMA). When a step goes wrong it always puts that
state back first, so a broken model is never trained on, shown or saved; then it acts on the
run's ``train.on_divergence`` policy:

* ``"recover"`` (default): lower the learning rate (and the Langevin step size when the model's
  own samples are what blew up) and carry on; repeated failures cool down faster and, after
  ``max_in_a_row`` recoveries without a healthy stretch, it gives up with :class:`DivergenceError`.
* ``"pause"``: ask the driver (GUI worker, CLI session) to pause so the user can decide.
* ``"stop"``: raise :class:`DivergenceError` at once.

"Going wrong" means a non-finite loss, energy, gradient or weight, or values exploding against
the run's own recent history: an energy ``energy_spike`` times its running median (or beyond the
absolute ``max_energy``), or a gradient norm ``grad_spike`` times its running median; or weights
beyond the family's own absolute bound (the trainer's ``max_weight``, e.g. Boltzmann machines',
which also covers the warm-up steps before any history exists). Ratios are
set well above what healthy runs show (the shipped DSM run peaks at 18x and 29x in its first
steps) so a sound run is never interrupted.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from .errors import DivergenceError


@dataclass(frozen=True)
class Problem:
    """Why a step counts as diverged: the text for the user, and whether the model's own samples
    (not the data) are what blew up, which is when cooling down shrinks the Langevin step too."""

    reason: str
    in_samples: bool = False


class DivergenceGuard:
    """Watches each step's record; restores the last good state and applies the policy."""

    def __init__(self, snapshot_every: int = 25, max_energy: float = 1e6, energy_spike: float = 100.0,
                 grad_spike: float = 1e3, warmup: int = 20, history: int = 50, max_in_a_row: int = 8):
        self.snapshot_every = snapshot_every
        self.snapshot: dict[str, Any] | None = None
        self.recoveries = 0
        self.divergences = 0  # steps found diverged (under any policy): drivers compare it to flag an event
        self.max_energy, self.energy_spike, self.grad_spike = max_energy, energy_spike, grad_spike
        self.warmup, self.history, self.max_in_a_row = warmup, history, max_in_a_row
        self.pause_requested = False
        self._grads: list[float] = []
        self._energies: list[float] = []
        self._in_a_row = 0

    # --- the two hooks the trainer calls ------------------------------------------------------
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
        found = self.problem(trainer, record)
        if found is None:
            self._remember(record)
            if trainer.step % self.snapshot_every == 0:
                self._in_a_row = 0
            return
        self._in_a_row += 1
        self.divergences += 1
        reason = found.reason
        policy = getattr(trainer.cfg.train, "on_divergence", "recover")
        restored = self.restore(trainer)
        where = f"restored the state of step {restored}" if restored is not None else "no good state to restore"
        if policy == "stop":
            raise DivergenceError(f"training diverged at step {record.step} ({reason}) and stopped, as "
                                  f"train.on_divergence = 'stop' asks; {where}")
        if self._in_a_row > self.max_in_a_row:
            raise DivergenceError(f"training keeps diverging ({reason}) even after {self.max_in_a_row} recoveries "
                                  f"with smaller learning rates; {where}")
        if policy == "pause":
            self.pause_requested = True
            event = (f"diverged ({reason}); {where} and paused (train.on_divergence = 'pause'): lower the "
                     f"learning rate (now {trainer.lr:.3g}) or the sampler step size, then resume")
        else:
            event = f"diverged ({reason}); {where} and " + self.cool_down(
                trainer, factor=0.5 ** min(self._in_a_row, 3), samples=found.in_samples)
        record.event = f"{record.event}; {event}" if record.event else event

    def take_pause_request(self) -> bool:
        """True once after a divergence under the ``"pause"`` policy: the driver should pause."""
        wanted, self.pause_requested = self.pause_requested, False
        return wanted

    # --- detection ----------------------------------------------------------------------------
    def problem(self, trainer, record) -> Problem | None:
        """Why this step's values mean the run diverged, or None if they look healthy."""
        values = (record.loss, record.grad_norm, record.e_data, record.e_samples)
        if not all(math.isfinite(v) for v in values):
            names = ("loss", "gradient", "data energy", "sample energy")
            return Problem("non-finite " + ", ".join(n for n, v in zip(names, values) if not math.isfinite(v)),
                           in_samples=not math.isfinite(record.e_samples))
        if not trainer.params_finite():
            return Problem("non-finite weights")
        bound = getattr(trainer, "max_weight", math.inf)
        if math.isfinite(bound) and (scale := trainer.weight_scale()) > bound:
            return Problem(f"weights grew to {scale:.3g}, beyond this family's bound of {bound:g}")
        energy = max(abs(record.e_data), abs(record.e_samples))
        in_samples = abs(record.e_samples) > abs(record.e_data)
        which = "sample energies" if in_samples else "data energies"
        if energy > self.max_energy:
            return Problem(f"{which} exploded to {energy:.3g}", in_samples)
        if len(self._energies) >= self.warmup:
            median = _median(self._energies)
            if energy > self.energy_spike * max(median, 1.0):
                return Problem(f"{which} exploded to {energy:.3g} (recent median {median:.3g})", in_samples)
        if len(self._grads) >= self.warmup:
            median = _median(self._grads)
            if median > 0 and record.grad_norm > self.grad_spike * median:
                return Problem(f"gradient norm spiked to {record.grad_norm:.3g} (recent median {median:.3g})")
        return None

    def _remember(self, record) -> None:
        self._grads = (self._grads + [record.grad_norm])[-self.history:]
        self._energies = (self._energies + [max(abs(record.e_data), abs(record.e_samples))])[-self.history:]

    # --- recovery -----------------------------------------------------------------------------
    def restore(self, trainer) -> int | None:
        """Put back the last good weights, optimizer moments and extras; the snapshot's step.
        The one restore of the project: the session calls it too when a step fails for good."""
        snap = self.snapshot
        if snap is None:
            return None
        current_lr = trainer.unannealed_lr  # restoring the optimizer would bring back the snapshot's lr
        trainer.model.load_state_dict(snap["model"])
        trainer.optimizer.load_state_dict(snap["optimizer"])
        trainer.restore_extra(snap["extra"])
        trainer.set_lr(current_lr)
        return int(snap["step"])

    def restore_if_broken(self, trainer) -> int | None:
        """After a step failed for good: if the weights hold NaN/inf, :meth:`restore`; the step
        restored, or None when the weights were sound (or no good state exists)."""
        if trainer.params_finite():
            return None
        return self.restore(trainer)

    def cool_down(self, trainer, factor: float = 0.5, samples: bool = False) -> str:
        """Multiply the learning rate by ``factor`` (repeated recoveries cool down faster: /2, /4,
        then /8 each time); when the model's own samples blew up, shrink the Langevin step too."""
        self.recoveries += 1
        new_lr = trainer.unannealed_lr * factor  # an annealing run goes on scaling the lowered rate
        trainer.set_lr(new_lr)
        text = f"lowered the learning rate to {new_lr:.3g}"
        if samples and _uses_langevin_negatives(trainer):
            sampler = trainer.cfg.sampler
            sampler.step_size = max(sampler.step_size * factor, 1e-6)
            text += f" and the Langevin step size to {sampler.step_size:.3g}"
        return text

    def recover(self, trainer, reason: str = "non-finite values", factor: float = 0.5, samples: bool = False) -> str:
        """Restore the last good state and cool down (used by tests and by callers that detect
        trouble themselves)."""
        restored = self.restore(trainer)
        if restored is None:
            raise DivergenceError(f"training diverged ({reason}) before any good state existed")
        return f"diverged ({reason}); restored the state of step {restored} and " + self.cool_down(trainer, factor,
                                                                                                    samples)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _uses_langevin_negatives(trainer) -> bool:
    return bool(getattr(trainer, "langevin_negatives", False))
