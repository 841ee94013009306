"""Few-shot transfer to an unseen digit (seed 004's question, asked of an energy-based model).

    python benchmarks/fewshot.py [--base-minutes 8] [--tune-minutes 2] [--digit 9] [--examples 10]

1. trains the default recipe on every digit except ``--digit`` for ``--base-minutes``;
2. fine-tunes it on the first ``--examples`` training images of ``--digit`` for ``--tune-minutes``
   (``ebm-studio train --init-from BASE --digits 9 --max-examples 10``);
3. trains the same recipe from scratch on the same examples for the same budget;
4. scores 500 samples from uniform noise of each with the quality meter and the transfer
   figures: share of samples that are the new digit, nearest-example distance (0 = a copy of one
   of the few examples) and diversity, beside the examples' own.
Prints a table and saves the grids next to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.data import load_dataset
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.families import draw_from_noise
from ebm_studio.core.quality import load_meter
from ebm_studio.core.quality.transfer import transfer_figures
from ebm_studio.core.session import Budget, TrainingSession, transfer_config


def train(cfg, minutes, init_model=None, steps=None, run_dir=None):
    session = TrainingSession(cfg, run_dir=run_dir, autosave_minutes=0, init_model=init_model)
    t0 = time.monotonic()
    for _ in session.run(Budget(minutes=None if steps else minutes, steps=steps)):
        pass
    if run_dir is not None:
        session.save()
    return session.trainer.export_model().eval(), session, time.monotonic() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-minutes", type=float, default=8.0)
    ap.add_argument("--tune-minutes", type=float, default=2.0)
    ap.add_argument("--tune-steps", type=int, default=None, help="budget of fine-tuning / scratch in steps instead")
    ap.add_argument("--base", type=Path, default=None, help="reuse this base run (trained without --digit) if it exists, "
                                                          "else train it and save it there")
    ap.add_argument("--digit", type=int, default=9)
    ap.add_argument("--examples", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2e-4, help="learning rate of fine-tuning and of the from-scratch run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("fewshot"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    others = [d for d in range(10) if d != args.digit]
    base_cfg = RunConfig().with_overrides(**{"data.digits": others, "train.seed": args.seed, "train.device": "cpu"})
    few = {"data.digits": [args.digit], "data.limit": args.examples, "train.lr": args.lr, "train.seed": args.seed,
           "train.device": "cpu", "train.batch_size": min(64, max(2, args.examples))}
    if args.base is not None and (args.base / "model.safetensors").exists():
        from ebm_studio.core.checkpoint import load_run

        loaded = load_run(args.base)
        base, base_cfg, base_s = loaded.model.eval(), loaded.config, 0.0
    else:
        base, _, base_s = train(base_cfg, args.base_minutes, run_dir=args.base)
    tuned, s_tuned, _ = train(transfer_config(base_cfg, RunConfig().with_overrides(**few)), args.tune_minutes,
                              init_model=base, steps=args.tune_steps)
    scratch, s_scratch, _ = train(RunConfig().with_overrides(**few), args.tune_minutes, steps=args.tune_steps)
    examples = load_dataset("mnist", "train", [args.digit], args.examples).images
    meter = load_meter()
    rows = {}
    for name, model, cfg in (("base (no " + str(args.digit) + "s)", base, base_cfg),
                             ("fine-tuned", tuned, s_tuned.cfg), ("from scratch", scratch, s_scratch.cfg)):
        x = draw_from_noise(model, cfg, args.n, seed=args.seed + 1)
        report = meter.evaluate(x)
        save_grid_png(args.out.with_name(f"{args.out.name}_{name.split()[0]}.png"), x[:100], 10, 10, scale=2)
        rows[name] = {"fid": round(report.fid, 1), "confidence": round(report.confidence, 3),
                      **transfer_figures(meter, x, args.digit, examples)}
    rows["the examples"] = transfer_figures(meter, examples, args.digit)
    print(json.dumps({"base_seconds": round(base_s), "tune_minutes": args.tune_minutes,
                      "tune_steps": s_tuned.trainer.step, "scratch_steps": s_scratch.trainer.step, "rows": rows},
                     indent=2))
    keys = ("share_target", "p_target", "nn_example_distance", "sample_diversity", "fid")
    print(f"\n{'':16s}" + "".join(f"{k:>20s}" for k in keys), file=sys.stderr)
    for name, r in rows.items():
        print(f"{name:16s}" + "".join(f"{r.get(k, float('nan')):>20}" for k in keys), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
