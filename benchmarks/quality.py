"""Reproduce the model-quality claim: train from a cold start for a wall-clock budget on CPU with
the default recipe, then score 1000 samples drawn from uniform noise with the quality meter.

    python benchmarks/quality.py --minutes 5 --seed 0 [--threads 2] [--preset dsm|cd|flowmatch] [--out DIR]
                                 [--curve 0.5,1,2,3]

Prints the training throughput and the meter's figures next to those of real MNIST-test digits
(the baseline any generator is measured against), saves a 10x10 grid PNG to look at, and, with
--out, the trained run directory. ``--curve`` also scores the model as it was at those minutes of
the same run (setup counted, as for the budget): the learning curve, one run for all its points.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ebm_studio.cli.config_set import parse_overrides
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.prior_cache import CACHE_ENV
from ebm_studio.core.data import load_mnist
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.families import draw_from_noise
from ebm_studio.core.presets import preset_config
from ebm_studio.core.quality import load_meter
from ebm_studio.core.session import Budget, TrainingSession


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="dsm")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a recipe field for an A/B probe, e.g. --set model.width=48 (TOML value)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None, help="keep the trained run here")
    ap.add_argument("--grid", type=Path, default=None, help="where to save the 10x10 sample grid")
    ap.add_argument("--samples", type=Path, default=None, help="save the scored samples here (.npy) to look at again")
    ap.add_argument("--curve", default="", help="comma-separated minutes (< --minutes) at which to snapshot the "
                                                "model and score it after training, e.g. 0.5,1,2,3")
    ap.add_argument("--fit-cache", action="store_true",
                    help="reuse the base energy's fit from an earlier run of the same data and seed (the studio "
                         "does; off by default: a cold start fits it inside the budget)")
    args = ap.parse_args(argv)
    if not args.fit_cache:
        os.environ[CACHE_ENV] = ""
    marks = sorted(float(m) for m in args.curve.split(",") if m.strip())
    torch.set_num_threads(args.threads)
    cfg = preset_config(args.preset, RunConfig().with_overrides(**{"train.seed": args.seed, "train.device": "cpu"}))
    if args.set:
        cfg = cfg.with_overrides(**parse_overrides(args.set))
    t_setup = time.monotonic()
    session = TrainingSession(cfg, run_dir=args.out, autosave_minutes=0)  # loads the data, fits any prior
    setup_s = time.monotonic() - t_setup
    t0 = time.monotonic()
    diverged = 0
    record = None
    snapshots = []  # (minutes since the start, setup counted; steps; the exported model then)
    for record in session.run(Budget(minutes=max(args.minutes - setup_s / 60.0, 0.0))):  # setup counts too
        diverged += bool(record.event)
        elapsed = (time.monotonic() - t_setup) / 60.0
        while marks and elapsed >= marks[0]:
            snapshots.append((marks.pop(0), session.trainer.step, copy.deepcopy(session.trainer.export_model())))
    train_s = time.monotonic() - t0
    if args.out:
        session.save()
    model = session.trainer.export_model().eval()
    t1 = time.monotonic()
    samples = draw_from_noise(model, session.cfg, args.n, seed=args.seed + 1)
    sample_s = time.monotonic() - t1
    meter = load_meter()
    report = meter.evaluate(samples)
    real = meter.evaluate(load_mnist("test").images[: args.n])
    curve = []
    for minutes, at_step, snap in snapshots:
        drawn = draw_from_noise(snap.eval(), session.cfg, args.n, seed=args.seed + 1)
        curve.append({"minutes": minutes, "train_steps": at_step, **meter.evaluate(drawn).as_dict()})
    curve.append({"minutes": args.minutes, "train_steps": session.trainer.step, **report.as_dict()})
    if args.samples:
        np.save(args.samples, samples.numpy() if torch.is_tensor(samples) else samples)
    grid = args.grid or Path(f"quality_{args.preset}_seed{args.seed}.png")
    save_grid_png(grid, samples[:100], 10, 10, scale=2)
    steps = session.trainer.step
    figures = {
        "preset": args.preset, "overrides": args.set, "seed": args.seed, "minutes": args.minutes,
        "threads": args.threads, "fit_cache": args.fit_cache, "train_steps": steps, "setup_seconds": round(setup_s, 1),
        "train_seconds": round(train_s, 1), "images_seen": steps * session.trainer.batch_size,
        "epochs": round(record.epoch, 2) if record else 0, "divergence_events": diverged,
        "final_loss": record.loss if record else None, "sampler_steps": session.cfg.sampler.total_steps(),
        "sample_seconds": round(sample_s, 1), "samples": report.as_dict(), "real_mnist_test": real.as_dict(),
        "grid": str(grid), "curve": curve if snapshots else None,
    }
    print(json.dumps(figures, indent=2))
    print(f"\n{args.preset}, seed {args.seed}: {steps} steps in {train_s:.0f} s; {args.n} samples from noise:",
          file=sys.stderr)
    print(f"{'':24s}{'samples':>12s}{'real test':>12s}", file=sys.stderr)
    for key in ("fid", "confidence", "coverage_bits", "nn_distance", "unsure", "illegible"):
        print(f"{key:24s}{getattr(report, key):12.3f}{getattr(real, key):12.3f}", file=sys.stderr)
    if snapshots:
        print(f"\nlearning curve (real test: FID {real.fid:.1f}, confidence {real.confidence:.3f})", file=sys.stderr)
        print(f"{'minutes':>8s}{'steps':>8s}{'fid':>9s}{'conf':>8s}{'cov':>7s}{'unsure':>8s}", file=sys.stderr)
        for c in curve:
            print(f"{c['minutes']:8g}{c['train_steps']:8d}{c['fid']:9.1f}{c['confidence']:8.3f}"
                  f"{c['coverage_bits']:7.2f}{c['unsure']:8.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
