"""Training the flow-matching baseline: regression to the straight path's velocity, with an EMA.

Each step draws fresh noise and times for one batch and fits the velocity by mean squared error
(``FlowMatching.loss``). As for the score-based energy (``conv/dsm.py``), samples come from an
exponential moving average of the weights (``train.ema``; :mod:`..weight_average`). The
average is what :meth:`export_model` returns (checkpoints, the views, the meter); the raw
weights travel in the trainer state so a run resumes exactly.

The record's ``e_data`` is the batch's loss; ``e_samples`` the same loss, with fresh noise and
times, of a few samples of the average, redrawn every ``LIVE_EVERY`` steps (and at a run's first
step or a resumed one's), not at every step: one ODE solve costs 2·``solver_steps`` − 1
evaluations of the net, more than the step itself. They use a generator of their own, so the
live view never shifts the training's random stream.
"""

from __future__ import annotations

import torch

from ..trainer import StepTrainer
from ..weight_average import WeightAverage
from .flow_matching import FlowMatching, build_flow_matching

LIVE_SAMPLES = 16
LIVE_EVERY = 50


class FlowMatchTrainer(StepTrainer):
    build_model = staticmethod(build_flow_matching)

    def __init__(self, cfg, data, model=None, device=None):
        super().__init__(cfg, data, model, device)
        self.average = WeightAverage(self.model)
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)
        self.e_samples = 0.0

    def export_model(self) -> FlowMatching:
        return self.average.pick(self.model, self.cfg.train.ema)

    def extra_state(self) -> dict[str, torch.Tensor]:
        return self.average.state(self.model)

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        self.average.restore(self.model, extra)

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        loss = self.model.loss(batch, self.generator)
        grad_norm = self.backward_and_step(loss)
        if torch.isfinite(grad_norm):
            self.average.update(self.model, self.cfg.train.ema, self.step)
        if self.step % LIVE_EVERY == 0 or not len(self.negatives):
            self._refresh_live()
        value = float(loss.detach())
        return {"loss": value, "grad_norm": float(grad_norm), "e_data": value, "e_samples": self.e_samples}

    @torch.no_grad()
    def _refresh_live(self) -> None:
        model, s = self.export_model(), self.cfg.sampler
        g = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed * 1_000_003 + self.step)
        self.negatives = model.sample(LIVE_SAMPLES, g, s.temperature, s.solver_steps, s.method, device=self.device)
        self.e_samples = float(model.loss(self.negatives, g))

    def sample(self, n: int, **_) -> torch.Tensor:
        s = self.cfg.sampler
        return self.export_model().sample(n, self.generator, s.temperature, s.solver_steps, s.method)
