"""Compare variants of the contrastive last phase on one shared DSM-trained base.

    python -m ebm_studio.cli train --out BASE --minutes 3.5 --seed 0 --contrast 0 --autosave-minutes 0
    python experiments/phase_probe.py BASE NAME [--minutes 1.5] [--set train.contrast_chains=128 ...]

Why: a full 5-minute run per variant mixes the variant's effect with the noise of the first 3.5
minutes (the same seed gave FID 53 and 76 on two days, with 2262 and 1931 updates). Here every
variant resumes a *copy* of the same base run for the phase's 1.5 minutes of wall clock, as the
budgeted run does (the term on, the learning rate at a tenth, ``train.lr = 1e-4`` unless --set),
then draws 1000 samples from uniform noise with sampling seed 1 and scores them: the meter's
figures, the shares of samples the judge gives < 0.5 and < 0.9 (the malformed ones a mean
confidence hides), the number of updates the phase got, a 10x10 grid PNG and the samples (.npy).
One JSON line per variant is printed and appended to OUT/phase_results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from quality import parse_overrides  # noqa: E402

from ebm_studio.core.export import save_grid_png  # noqa: E402
from ebm_studio.core.families import draw_from_noise  # noqa: E402
from ebm_studio.core.quality import load_meter  # noqa: E402
from ebm_studio.core.session import Budget, TrainingSession  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path, help="a DSM run directory to start every variant from (left untouched)")
    ap.add_argument("name", help="the variant's name (files NAME.png / NAME.npy, run OUT/runs/NAME)")
    ap.add_argument("--minutes", type=float, default=1.5, help="wall clock of the phase")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe field")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("phase_probe"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    run = args.out / "runs" / args.name
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(args.base, run)
    session = TrainingSession(None, run_dir=run, resume=True, autosave_minutes=0)
    live = {"train.lr": 1e-4, "train.contrast": 0.01, "train.contrast_phase": 0.0, **parse_overrides(args.set)}
    session.trainer.update_settings(session.cfg.with_overrides(**live))
    step0, events = session.trainer.step, 0
    t0 = time.monotonic()
    for record in session.run(Budget(minutes=args.minutes)):
        events += bool(record.event)
    train_s = time.monotonic() - t0
    session.save()
    samples = draw_from_noise(session.trainer.export_model().eval(), session.trainer.cfg, args.n, seed=1)
    meter = load_meter()
    report = meter.evaluate(samples)
    np.save(args.out / f"{args.name}.npy", samples.numpy() if torch.is_tensor(samples) else samples)
    save_grid_png(args.out / f"{args.name}.png", samples[:100], 10, 10, scale=2)
    row = {"name": args.name, "set": args.set, "updates": session.trainer.step - step0, "seconds": round(train_s, 1),
           "divergence_events": events, "fid": round(report.fid, 1), "confidence": round(report.confidence, 3),
           "coverage_bits": round(report.coverage_bits, 3), "nn_distance": round(report.nn_distance, 2),
           "unsure": round(report.unsure, 3), "illegible": round(report.illegible, 3), "class_histogram": report.class_histogram}
    print(json.dumps(row))
    with open(args.out / "phase_results.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
