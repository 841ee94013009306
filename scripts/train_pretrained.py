"""Train and package the shipped pretrained convolutional EBM.

    python scripts/train_pretrained.py --minutes 45 [--threads 1] [--work /tmp/pretrained-run]
    python scripts/train_pretrained.py --package-only --work RUN_DIR

Trains the default recipe (denoising score matching of the noise-conditional energy, seed 0) from
a cold start, then packages resources/pretrained/conv/: the EMA weights (model.safetensors),
config.toml, metrics.csv, the class guide if the run has one (guide.safetensors, from
``ebm-studio guide``), a 10x10 grid of samples from uniform noise (samples.png) and the quality
meter's figures for 1000 such samples (figures.json). The optimizer state is not shipped.

The model shipped on 2026-11-23 was trained by ``experiments/ncsn_probe.py --arch gcond --minutes
60`` (same architecture and objective) and converted with ``experiments/convert_probe.py``; see
benchmarks/QUALITY.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "resources" / "pretrained" / "conv"


def package(work: Path, n: int = 1000) -> dict:
    from ebm_studio.core.atomic import atomic_write_text
    from ebm_studio.core.checkpoint import load_run
    from ebm_studio.core.export import save_grid_png
    from ebm_studio.core.families import sample_chain
    from ebm_studio.core.quality import load_meter

    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.toml", "metrics.csv", "guide.safetensors"):
        if (work / name).exists() or name != "guide.safetensors":
            shutil.copyfile(work / name, TARGET / name)
    run = load_run(TARGET)
    g = torch.Generator().manual_seed(1)
    chunks = []
    for i in range(0, n, 250):
        last = None
        for last in sample_chain(run.model, run.config, torch.rand((min(250, n - i), 1, 28, 28), generator=g),
                                 generator=g):
            pass
        chunks.append(last.x)
    samples = torch.cat(chunks)
    save_grid_png(TARGET / "samples.png", samples[:100], 10, 10, scale=2)
    report = load_meter().evaluate(samples)
    import csv

    rows = list(csv.DictReader(open(work / "metrics.csv")))
    steps = int(float(rows[-1]["step"])) if rows else 0
    figures = {"n": n, "sampler_steps": run.config.sampler.total_steps(), "training_steps": steps,
               **report.as_dict()}
    atomic_write_text(TARGET / "figures.json", json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=45.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/pretrained-run"))
    ap.add_argument("--package-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.package_only:
        env_threads = {"EBM_STUDIO_THREADS": str(args.threads)}
        subprocess.run([sys.executable, "-m", "ebm_studio", "train", "--out", str(args.work), "--minutes",
                        str(args.minutes), "--seed", "0", "--quiet"], check=True,
                       env={**__import__("os").environ, **env_threads})
    package(args.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
