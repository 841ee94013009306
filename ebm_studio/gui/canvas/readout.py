"""The label under the canvas drawing: the energy of what is shown, at a stated noise level, and its
rank among real digits noised to the same level (see ``core/landscape.py``)."""

from __future__ import annotations

import numpy as np
import torch

from ...core.families import family
from ...core.landscape import energy_at, is_blank, rank_energies


def energy_readout(panel) -> str:
    """The label under the drawing: the energy of what is shown, at the noise level stated, ranked
    among real test digits noised to that level. Mid-chain it is the red curve's last point."""
    if panel.model is None:
        return "energy: – (no model loaded: open or train one)"

    p = panel.player
    showing_chain = panel.surface.display is not None and p is not None
    try:
        if showing_chain:
            img, sigma = p.current[0], p.current_sigma
            e = float(p.energies[-1][0])
        else:
            img, sigma = panel.surface.image, None
            e = float(energy_at(panel.model, torch.from_numpy(np.ascontiguousarray(img)).view(1, 1, 28, 28))[0])
        pct = float(rank_energies(panel.model, [e], img[None], sigma)[0])
    except Exception as exc:  # a snapshot of a diverged model, say
        return f"energy: unavailable ({exc.__class__.__name__})"
    what = f"chain 1 at step {p.step_index}" if showing_chain else "drawing"
    level = level_text(panel, sigma)
    steered = showing_chain and panel.steer.currentData() is not None
    guided = " (steered: includes the guide's term)" if steered else ""
    if bool(is_blank(img[None])[0]):
        return f"{what}: energy {e:+.3f}{level}{guided}  ·  blank: no ink, not ranked as a digit"
    return (f"{what}: energy {e:+.3f}{level}{guided}  ·  more digit-like than {pct:.0f}% of real test digits "
            f"at that σ")

def level_text(panel, sigma) -> str:
    if panel.cfg is None or not family(panel.cfg.model.family).langevin:
        return ""
    if sigma is None:
        sigma = float(getattr(panel.model, "sigma_default", panel.cfg.sampler.sigma_min))
    return f" at σ = {float(sigma):.3g}"
