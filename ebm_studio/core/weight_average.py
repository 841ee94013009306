"""An exponential moving average of a model's weights: what score-based and flow models sample from.

Samples of score, diffusion and flow nets come from many evaluations of the same weights, and the
average of the last optimisation steps' noisy weights makes far better ones (Song & Ermon 2020).
The decay is warmed up as (1 + n) / (10 + n) after n updates, so a short run is not dragged back
toward its random start. :class:`WeightAverage` is the one holder the trainers share: the
denoising-score-matching energy (``conv/dsm.py``), the flow-matching baseline
(``baselines/flow_trainer.py``) and the Boltzmann machines (``boltzmann/trainer.py``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """Move ``average``'s parameters toward ``model``'s by 1 - min(decay, (1 + step) / (10 + step));
    its buffers (fitted statistics, not trained) are copied."""
    rate = 1.0 - min(decay, (1.0 + step) / (10.0 + step))
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, rate)
    for a, b in zip(average.buffers(), model.buffers()):
        a.copy_(b)


def pair_state(model: nn.Module, average: nn.Module, skip=lambda key: False) -> dict[str, torch.Tensor]:
    """A trainer's extra state for resuming: the raw weights as ``raw.*`` and the average as ``ema.*``
    (keys for which ``skip`` is true, e.g. a fitted base energy kept in the model file, left out)."""
    out = {f"raw.{k}": v.detach().clone() for k, v in model.state_dict().items() if not skip(k)}
    out.update({f"ema.{k}": v.detach().clone() for k, v in average.state_dict().items() if not skip(k)})
    return out


def restore_pair(model: nn.Module, average: nn.Module, extra: dict[str, torch.Tensor], skip=lambda key: False) -> None:
    """Load :func:`pair_state`'s two halves back; the ``skip`` keys keep the values ``model`` has now."""
    kept = {k: v for k, v in model.state_dict().items() if skip(k)}
    for prefix, target in (("raw.", model), ("ema.", average)):
        part = {k[len(prefix):]: v for k, v in extra.items() if k.startswith(prefix)}
        if part:
            target.load_state_dict({**kept, **part})


class WeightAverage:
    """The averaged copy of a trainer's model: what it saves and samples while ``decay`` > 0.

    ``live`` says whether the copy holds an average of the weights being trained. A copy that is
    not live is re-seeded from the weights at its next update: when averaging was off, when a
    resumed file held no average, or (``seeded=False``) until the trainer's first update, for
    models whose weights at construction are not yet the ones trained (a DBM's pre-training).
    """

    def __init__(self, model: nn.Module, seeded: bool = True):
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.live = seeded

    def update(self, model: nn.Module, decay: float, step: int) -> None:
        if decay <= 0:
            self.live = False
            return
        if not self.live:
            self.module.load_state_dict(model.state_dict())
            self.live = True
        update_average(self.module, model, decay, step)

    def pick(self, model: nn.Module, decay: float) -> nn.Module:
        """The model to save and sample: the average while there is one, else the weights."""
        return self.module if decay > 0 and self.live else model

    def state(self, model: nn.Module, skip=lambda key: False) -> dict[str, torch.Tensor]:
        """:func:`pair_state` while the average is live; nothing otherwise (it would be re-seeded)."""
        return pair_state(model, self.module, skip) if self.live else {}

    def restore(self, model: nn.Module, extra: dict[str, torch.Tensor], skip=lambda key: False) -> None:
        restore_pair(model, self.module, extra, skip)
        self.live = any(k.startswith("ema.") for k in extra)
