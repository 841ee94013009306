"""An exponential moving average of a model's weights: what score-based and flow models sample from.

Samples of score, diffusion and flow nets come from many evaluations of the same weights, and the
average of the last optimisation steps' noisy weights makes far better ones (Song & Ermon 2020).
The decay is warmed up as (1 + n) / (10 + n) after n updates, so a short run is not dragged back
toward its random start. The denoising-score-matching energy (``conv/dsm.py``) and the
flow-matching baseline (``baselines/flow_trainer.py``) share it.
"""

from __future__ import annotations

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
