"""Where do the chains that end as dots or an empty frame lose their digit?

    python experiments/dots_probe.py RUN_DIR [--n 300] [--out /tmp/dots.png]

Runs the model's own ancestral sampler on n chains from uniform noise, keeps the state at a few
noise levels, and computes there the denoised estimate (Tweedie: x - sigma * grad g(x, sigma)).
The quality meter then scores the final samples; for the least confident ones (the failures)
and for the rest, it prints the mean ink (sum of pixels) of the denoised estimates level by
level, and saves a picture: one row per failed chain, its denoised estimates left to right.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from probe_scoring import FAILURE_CONFIDENCE, sample_confidence

from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.conv.schedules import ancestral_schedule
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.families import sample_chain
from ebm_studio.core.quality import load_meter


def tweedie(model, x, sigma):
    x = x.detach().float().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(model(x, sigma).sum(), x)
    return (x - sigma * g).detach().clamp(0, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="/tmp/dots.png")
    args = ap.parse_args(argv)
    run = load_run(args.run)
    model, cfg = run.model.eval(), run.config
    s = cfg.sampler
    sched = ancestral_schedule(s.sigma_max, s.sigma_min, s.levels, corrector=s.steps_per_level - 1, snr=s.snr)
    wanted = [0.7, 0.5, 0.35, 0.25, 0.15, 0.08, 0.04]
    keep = {}
    for target in wanted:  # the first step at or below each wanted sigma
        i = next(i for i, (_, _, sig) in enumerate(sched) if sig <= target)
        keep[i + 1] = sched[i][2]  # chain step k is the state after schedule step k-1
    g = torch.Generator().manual_seed(args.seed)
    states = {}
    final = None
    for st in sample_chain(model, cfg, torch.rand(args.n, 1, 28, 28, generator=g), generator=g, compile=False):
        if st.step in keep:
            states[st.step] = st.x.detach().clone()
        final = st
    x_final = final.x.detach().float()
    meter = load_meter()
    report = meter.evaluate(x_final)
    print(f"n={args.n}: FID {report.fid:.1f} confidence {report.confidence:.3f} coverage {report.coverage_bits:.2f}")
    conf = sample_confidence(meter, x_final)
    bad = conf < FAILURE_CONFIDENCE
    print(f"{int(bad.sum())} of {args.n} samples below confidence 0.5 (mean conf of the rest "
          f"{float(conf[~bad].mean()):.3f}, of the failures {float(conf[bad].mean()):.3f})")
    print("sigma     ink(failures)  ink(rest)   [denoised estimate, sum of pixels]")
    rows = []
    for k, sig in keep.items():
        est = tweedie(model, states[k], sig)
        ink = est.sum((1, 2, 3))
        print(f"{sig:6.3f}   {float(ink[bad].mean()):10.1f}   {float(ink[~bad].mean()):9.1f}")
        rows.append(est[bad][:12])
    ink = x_final.sum((1, 2, 3))
    print(f" final   {float(ink[bad].mean()):10.1f}   {float(ink[~bad].mean()):9.1f}")
    rows.append(x_final[bad][:12])
    pic = torch.stack(rows, 1).reshape(-1, 1, 28, 28)  # one row per failed chain
    save_grid_png(args.out, pic, len(rows[0]), len(rows), scale=3)
    print("saved", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
