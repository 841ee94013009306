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
