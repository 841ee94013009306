"""Does a cooled chain complete the top half of a digit as the digit it was? (issue #25's inpainting target)

One inpainting chain draws a sample of p(bottom | top). Where the top half allows several digits,
it lands on a rarer one about as often as the model finds it likely, and the nearest-neighbour
lookup wins. Cooling the unconditional sampler (the noise of each ancestral step times tau < 1)
bought confidence with coverage (QUALITY.md, 2026-11-30); for inpainting the clamped top already
fixes the class, so coverage is not at stake. This probe runs the canvas's chain
(``cli.canvas.complete``, the model's own ladder from sigma_max) with the noise of every step after
the first injection scaled by each of ``--taus``, optionally with the energy's pull scaled by
``--pull`` as well (sampling roughly p^pull), and scores one chain per digit and the lowest energy
of ``--chains``. Same digits (``--seed``) as ``benchmarks/canvas_cli.py``.

Usage: python experiments/inpaint_cooling_probe.py [--model pretrained] [--n 500] [--taus 1,0.7,0.5]
       [--pull 1] [--chains 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import ebm_studio.core.playback as playback
from ebm_studio.cli.canvas import complete
from ebm_studio.core.data import load_mnist
from ebm_studio.core.landscape import lowest_energy
from ebm_studio.core.models_io import open_model
from ebm_studio.core.quality import load_meter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from canvas_cli import HALF, nearest_neighbour_completion, true_digit  # noqa: E402  the benchmark's lookup and judge

ANCESTRAL = playback.ancestral_schedule


def cooled(tau: float, pull: float):
    """``ancestral_schedule`` with every step's noise after the first injection times ``tau`` and
    its step on the energy's gradient times ``pull``."""
    def schedule(*args, **kwargs):
        steps = ANCESTRAL(*args, **kwargs)
        return steps[:1] + [(a * pull, b * tau, s) for a, b, s in steps[1:]]
    return schedule


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pretrained")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--taus", default="1,0.7,0.5")
    ap.add_argument("--pull", type=float, default=1.0)
    ap.add_argument("--chains", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    test, train = load_mnist("test"), load_mnist("train")
    pick = torch.randperm(len(test.labels), generator=torch.Generator().manual_seed(args.seed))[: args.n]
    clean, labels = test.images[pick, 0], test.labels[pick]
    tops = clean.clone()
    tops[:, HALF:] = 0.0
    mask = np.zeros((28, 28), bool)
    mask[:HALF] = True
    meter = load_meter()
    run = open_model(args.model)
    run.model = run.model.float()
    if run.config.sampler.schedule != "ancestral":
        raise SystemExit(f"{args.model}: this probe cools the ancestral chain; the model's is {run.config.sampler.schedule}")
    lookup = float(true_digit(meter, nearest_neighbour_completion(tops, train.images[:, 0]), labels).float().mean())
    out = {"model": args.model, "n": args.n, "pull": args.pull, "chains": args.chains, "nearest_neighbour": lookup}
    for tau in [float(t) for t in args.taus.split(",") if t]:
        playback.ancestral_schedule = cooled(tau, args.pull)
        t0 = time.monotonic()
        every = complete(run.model, run.config, tops.numpy(), mask, run.config.sampler.sigma_max, seed=args.seed,
                         quiet=True, desc="inpaint", chains=args.chains, pick="all")
        row = {"one_chain": float(true_digit(meter, torch.from_numpy(every[:, 0]), labels).float().mean()),
               "seconds": round(time.monotonic() - t0)}
        if args.chains > 1:
            best = torch.from_numpy(lowest_energy(run.model, run.config, every))
            row[f"lowest_of_{args.chains}"] = float(true_digit(meter, best, labels).float().mean())
        out[f"tau {tau:g}"] = row
        print(f"tau {tau:g}: {row}  (lookup {lookup:.3f})", flush=True)
    playback.ancestral_schedule = ANCESTRAL
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
