"""What the sampler probes print for a batch of samples: the quality meter's figures, how many
samples fail (top-class confidence below 0.5: the fragments and dots), their ink, and a grid.

Shared by clip_probe.py, cooling_probe.py and dots_probe.py so their figures are comparable.
"""

from __future__ import annotations

import torch

from ebm_studio.core.export import save_grid_png

FAILURE_CONFIDENCE = 0.5


def sample_confidence(meter, x: torch.Tensor) -> torch.Tensor:
    """Each sample's top-class probability under the meter's classifier."""
    with torch.no_grad():
        probs, _ = meter.predict(x.float())
    return probs.max(1).values


def print_scores(meter, x: torch.Tensor, label: str, grid: str = "", grid_suffix: str = "") -> None:
    """One line of figures for samples ``x``; with ``grid``, save the first 100 as a 10x10 PNG
    named ``grid`` with ``grid_suffix`` before its extension."""
    r = meter.evaluate(x)
    fails = int((sample_confidence(meter, x) < FAILURE_CONFIDENCE).sum())
    print(f"{label}: FID {r.fid:6.1f}  confidence {r.confidence:.3f}  coverage {r.coverage_bits:.2f}  "
          f"failures {fails}/{len(x)}  ink {float(x.sum((1, 2, 3)).mean()):.1f}  classes {r.class_histogram}",
          flush=True)
    if grid:
        save_grid_png(grid.replace(".png", f"{grid_suffix}.png"), x[:100], 10, 10, scale=2)
