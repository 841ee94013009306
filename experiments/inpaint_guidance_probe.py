"""Does reconstruction guidance make the inpainting chain complete the digit the top half began?

The canvas's masked chain holds the clamped top clean and lets the network's joint receptive
field carry what the top says into the free bottom: at large sigma the bottom is pure noise and
the net sees a clean top under a noisy bottom, a pairing it never trained on, and one chain
completes the true digit less often than the nearest-neighbour lookup (QUALITY.md). Reconstruction
guidance (Ho et al. 2022, "Video diffusion models"; Chung et al. 2023, DPS, in its simplest form)
adds to the score the gradient of how well the denoised estimate of the whole image, Tweedie's
x0(x) = x - sigma * dg/dx, reproduces the clamped pixels:

    g'(x, sigma) = g(x, sigma) + w / (2 sigma) * |M (x0(x) - x)|^2      (M: the clamped pixels)

so the free pixels move where the net's guess of the clean image agrees with the top it was
given. A double backward per step (about 2-3x the chain's cost). Adopted as
``core/conv/inpaint_guidance.py`` (``sampler.inpaint_guidance``); this probe runs the canvas's
chain at each of ``--weights`` (0: the chain without it). ``--tau`` cools the chain instead or
as well (every step's noise times tau; the unconditional sampler bought confidence with coverage
that way, and for inpainting the clamped top already fixes the class). One chain per digit
and, with ``--chains K``, the lowest energy of K (by the model's own energy). Same digits (``--seed``) as
``benchmarks/canvas_cli.py``.

Usage: python experiments/inpaint_guidance_probe.py [--model pretrained] [--n 500] [--weights 0,1]
       [--chains 1] [--tau 1] [--threads 1]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import ebm_studio.core.playback as playback
from ebm_studio.cli.canvas import complete
from ebm_studio.core.landscape import lowest_energy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from canvas_cli import HALF, nearest_neighbour_completion, probe_inputs, probe_parser, true_digit  # noqa: E402  the benchmark's lookup and judge

ANCESTRAL = playback.ancestral_schedule


def cooled(tau: float):
    """The canvas's ``ancestral_schedule`` with every step's noise after the first injection x ``tau``."""
    def schedule(*args, **kwargs):
        steps = ANCESTRAL(*args, **kwargs)
        return steps[:1] + [(a, b * tau, s) for a, b, s in steps[1:]]
    return schedule


def main(argv=None) -> int:
    ap = probe_parser(__doc__.splitlines()[0])
    ap.add_argument("--weights", default="0,1")
    ap.add_argument("--chains", type=int, default=1)
    ap.add_argument("--tau", type=float, default=1.0, help="cool the chain: every step's noise after the first x tau")
    args = ap.parse_args(argv)
    train, clean, labels, tops, meter, run = probe_inputs(args)
    mask = np.zeros((28, 28), bool)
    mask[:HALF] = True
    if not getattr(run.model, "uses_sigma", False):
        raise SystemExit(f"{args.model}: guidance needs a noise-conditional energy")
    lookup = float(true_digit(meter, nearest_neighbour_completion(tops, train), labels).float().mean())
    if args.tau != 1.0:
        playback.ancestral_schedule = cooled(args.tau)
    out = {"model": args.model, "tau": args.tau, "n": args.n, "chains": args.chains, "nearest_neighbour": lookup}
    for w in [float(v) for v in args.weights.split(",") if v]:
        cfg = run.config.with_overrides(**{"sampler.inpaint_guidance": w})
        t0 = time.monotonic()
        every = complete(run.model, cfg, tops.numpy(), mask, run.config.sampler.sigma_max, seed=args.seed,
                         quiet=True, desc="inpaint", chains=args.chains, pick="all")
        row = {"one_chain": float(true_digit(meter, torch.from_numpy(every[:, 0]), labels).float().mean()),
               "seconds": round(time.monotonic() - t0)}
        if args.chains > 1:
            best = torch.from_numpy(lowest_energy(run.model, run.config, every))
            row[f"lowest_of_{args.chains}"] = float(true_digit(meter, best, labels).float().mean())
        out[f"w {w:g}"] = row
        print(f"w {w:g}: {row}  (lookup {lookup:.3f})", flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
