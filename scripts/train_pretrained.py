"""Train and package the shipped pretrained convolutional EBM.

    python scripts/train_pretrained.py [--phases 92:1e-3] [--threads 1] [--width 64] [--work DIR]
    python scripts/train_pretrained.py --from RUN_DIR --phases 15:1e-4:0:0.01 [--threads 2] [--work DIR]
    python scripts/train_pretrained.py --package-only --work RUN_DIR

Trains the shipped recipe (the default denoising score matching of the noise-conditional energy
with log-uniform training noise and an EMA of 0.999, seed 0; ``--width`` channels) from a cold
start with ``ebm-studio train`` in phases MINUTES:LR[:ANNEAL[:CONTRAST]], each but the first resuming
the run where the last stopped (``--resume --lr LR --anneal ANNEAL --contrast CONTRAST``: a step down
of the learning rate, a phase that brings it linearly to 0, contrastive refinement on the sampler's
own chains); with ``--from RUN_DIR`` every phase resumes a copy of that run instead, then packages resources/pretrained/conv/: the EMA weights
(model.safetensors: the network's parameters in float16, which the bf16 sampler loses nothing
to and which halves the file; the Gaussian fit's buffers in float32), config.toml (sampler.compile
"auto"), metrics.csv, the class guide already there or in the run (guide.safetensors, from
``ebm-studio guide``), a 10x10 grid of samples from uniform noise (samples.png) and the quality
meter's figures for 1000 such samples (figures.json). The optimizer state is not shipped.

The shipped model of 2026-11-30 is width 64, trained on one thread in the default single phase
(92 minutes at lr 1e-3, constant). Two more phases on top of it (``92:1e-3,55:3e-4,50:3e-4:1``:
55 minutes at 3e-4, then 50 annealed from 3e-4 to 0; 44,090 updates in all) did not score better
(benchmarks/QUALITY.md), so the shipped model is the 92-minute one. Earlier ones came from
``experiments/ncsn_probe.py``.

The shipped model of 2026-12-01 is that one refined by contrastive divergence on its own sampler's
chains at every noise level (``train.contrast``): ``--from`` the 2026-11-30 model (``git show
ead2ac0:resources/pretrained/conv/...``), one phase ``15:1e-4:0:0.01`` with ``--threads 2`` (15
minutes at lr 1e-4, contrastive weight 0.01; 1,639 updates): classifier-FID 29 -> 6, confidence
0.924 -> 0.984 (benchmarks/QUALITY.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "resources" / "pretrained" / "conv"
SHIPPED_RECIPE = {"train.sigma_skew": 1.0, "train.ema": 0.999}  # long runs: log-uniform noise, a longer average


def thin_metrics(src: Path, dst: Path, max_rows: int = 2000) -> list[dict]:
    """Copy a run's metrics.csv with at most ~``max_rows`` rows: each row the mean of a window of
    steps (seconds summed, so the total training time stays right); rows with an event are kept.
    Returns the rows written."""
    with open(src, newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    k = max(1, -(-len(rows) // max_rows))
    out, window = [], []

    def flush():
        if not window:
            return
        row = dict(window[-1])
        for key in ("loss", "grad_norm", "e_data", "e_samples"):
            vals = [float(r[key]) for r in window if r[key] not in ("", None)]
            row[key] = f"{sum(vals) / len(vals):.6g}" if vals else ""
        row["seconds"] = f"{sum(float(r['seconds'] or 0) for r in window):.4f}"
        out.append(row)
        window.clear()

    for r in rows:
        if r.get("event"):
            flush()
            out.append(r)
            continue
        window.append(r)
        if len(window) == k:
            flush()
    flush()
    with open(dst, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(out)
    return out


def package(work: Path, n: int = 1000) -> dict:
    from ebm_studio.core.atomic import atomic_write_text
    from ebm_studio.core.checkpoint import CONFIG_FILE, MODEL_FILE, load_run, save_tensors
    from ebm_studio.core.config import config_to_toml
    from ebm_studio.core.export import save_grid_png
    from ebm_studio.core.families import draw_from_noise
    from ebm_studio.core.precision import autocast_dtype
    from ebm_studio.core.quality import load_meter

    TARGET.mkdir(parents=True, exist_ok=True)
    run = load_run(work)
    cfg = run.config.with_overrides(**{"sampler.compile": "auto"})
    params = {name for name, _ in run.model.named_parameters()}
    tensors = {k: (v.half() if k in params else v) for k, v in run.model.state_dict().items()}
    save_tensors(TARGET / MODEL_FILE, tensors, {"family": cfg.model.family, "format": "ebm-studio/1"})
    atomic_write_text(TARGET / CONFIG_FILE, config_to_toml(cfg))
    rows = thin_metrics(work / "metrics.csv", TARGET / "metrics.csv")
    if (work / "guide.safetensors").exists():
        shutil.copyfile(work / "guide.safetensors", TARGET / "guide.safetensors")
    shipped = load_run(TARGET)
    t = time.monotonic()
    samples = draw_from_noise(shipped.model.eval(), shipped.config, n, seed=0)
    seconds = time.monotonic() - t
    save_grid_png(TARGET / "samples.png", samples[:100], 10, 10, scale=2)
    report = load_meter().evaluate(samples)
    figures = {"n": n, "seed": 0, "sampler_steps": shipped.config.sampler.total_steps(),
               "sampler_start": shipped.config.sampler.start,
               "precision": str(autocast_dtype(shipped.config.sampler.precision, "cpu") or torch.float32),
               "sample_seconds": round(seconds, 1), "threads": torch.get_num_threads(),
               "training_steps": int(float(rows[-1]["step"])) if rows else 0,
               "training_minutes": round(sum(float(r["seconds"] or 0) for r in rows) / 60, 1),
               "width": shipped.config.model.width, "parameters": sum(p.numel() for p in shipped.model.parameters()),
               **report.as_dict()}
    atomic_write_text(TARGET / "figures.json", json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phases", default="92:1e-3",
                    help="comma-separated MINUTES:LR[:ANNEAL[:CONTRAST]] training phases")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/pretrained-run"))
    ap.add_argument("--from", dest="source", type=Path, help="resume a copy of this run (e.g. the shipped model)")
    ap.add_argument("--package-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.package_only:
        env_threads = {"EBM_STUDIO_THREADS": str(args.threads)}
        from ebm_studio.core.config import RunConfig, save_config

        recipe = args.work.with_suffix(".recipe.toml")
        save_config(RunConfig().with_overrides(**SHIPPED_RECIPE), recipe)
        env = {**__import__("os").environ, **env_threads}
        if args.source:
            if args.work.exists():
                raise SystemExit(f"{args.work} exists; --from copies the run there, choose a new --work")
            shutil.copytree(args.source, args.work)
        for i, phase in enumerate(args.phases.split(",")):
            minutes, lr, *rest = phase.split(":")
            anneal, contrast = (rest + ["0", "0"])[:2]
            fresh = i == 0 and not args.source
            start = ["--config", str(recipe), "--width", str(args.width), "--seed", "0"] if fresh else ["--resume"]
            subprocess.run([sys.executable, "-m", "ebm_studio", "train", *start, "--out", str(args.work),
                            "--minutes", minutes, "--lr", lr, "--anneal", anneal, "--contrast", contrast, "--quiet"],
                           check=True, env=env)
    package(args.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
