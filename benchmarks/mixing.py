"""Do a trained energy's chains keep making digits when they run long? The mixing check of a
noise-conditional conv energy (the CD recipe's, beside score matching's):

    python benchmarks/mixing.py RUN [RUN ...] [--n 500] [--sigma 0.1] [--steps 1000] [--seed 0]

Short-run chains can teach an energy that is right only for the short run (Nijkamp et al. 2019):
its samples look fine, but chains that keep going drift to images the training never saw. So each
model first draws ``n`` samples with its own sampler, then those samples, noised to level
``sigma``, run ``steps`` further Langevin steps on the marginal energy E(x, sigma) (the corrector
step of :func:`ebm_studio.core.conv.schedules.corrector_step`, a signal-to-noise ratio ``--snr``).
Printed: the chains' mean energy over time and the meter's figures of their Tweedie denoisings
at the checkpoints (a sound energy keeps both level), with a grid of the last states to look at.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ebm_studio.core.conv.langevin import langevin_chain
from ebm_studio.core.conv.schedules import corrector_step
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.families import draw_from_noise
from ebm_studio.core.models_io import open_model
from ebm_studio.core.quality import load_meter


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--sigma", type=float, default=0.1)
    ap.add_argument("--snr", type=float, default=0.16)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--checkpoints", default="0,100,300,1000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid-dir", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")} | {args.steps})
    meter = load_meter()
    results = []
    for path in args.runs:
        run = open_model(str(path))
        model, cfg = run.model.eval(), run.config
        start = draw_from_noise(model, cfg, args.n, seed=args.seed)
        g = torch.Generator().manual_seed(args.seed + 1)
        x0 = start + args.sigma * torch.randn(start.shape, generator=g)
        step_size, noise = corrector_step(args.sigma, args.snr)
        schedule = [(step_size, noise, args.sigma)] * args.steps
        trace, rows = [], []
        for st in langevin_chain(model, x0, grad_clip=None, clamp=None, generator=g, schedule=schedule):
            if st.step % 10 == 0:
                trace.append((st.step, float(st.energy.mean()) / args.sigma))  # E = g / sigma
            if st.step in checkpoints:
                denoised = (st.x - args.sigma * st.grad).clamp(0, 1)
                report = meter.evaluate(denoised)
                rows.append({"step": st.step, "energy": float(st.energy.mean()) / args.sigma, **report.as_dict()})
                last = denoised
        grid = args.grid_dir / f"mixing_{Path(path).name}_sigma{args.sigma:g}_{args.steps}.png"
        save_grid_png(grid, last[:100], 10, 10, scale=2)
        results.append({"run": str(path), "objective": cfg.train.objective, "sampler": cfg.sampler.method,
                        "sigma": args.sigma, "snr": args.snr, "checkpoints": rows, "energy_trace": trace,
                        "grid": str(grid)})
        print(f"\n{path} ({cfg.train.objective}, samples by {cfg.sampler.method}); Langevin at sigma "
              f"{args.sigma:g}, snr {args.snr:g}:", file=sys.stderr)
        print(f"{'step':>6s}{'mean E':>12s}{'fid':>9s}{'conf':>8s}{'cov':>7s}{'unsure':>8s}", file=sys.stderr)
        for r in rows:
            print(f"{r['step']:6d}{r['energy']:12.1f}{r['fid']:9.1f}{r['confidence']:8.3f}{r['coverage_bits']:7.2f}"
                  f"{r['unsure']:8.3f}", file=sys.stderr)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
