"""Data-parallel throughput: one training process against N under torchrun, on this machine.

    python benchmarks/ddp_throughput.py [--procs 2] [--steps 20] [--rounds 2] [--width 48] [--single-thread]

Both train the default objective (score matching, the contrastive term off) on the same global
batch for the same steps, alternately, ``--rounds`` times. One process gets every core as threads
(and, with ``--single-thread``, also runs with one thread); each of the N processes gets cores / N
(torchrun's processes share the machine). The figure is
images per second of training: global batch x steps over the summed step times in rank 0's
metrics.csv (the gradient all-reduce is inside a step; the first ``--warmup`` steps are left out),
and beside it the command's whole wall time (start-up, data, the fit and the saves included).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _run(out: Path, procs: int, threads: int, args) -> tuple[float, float]:
    """(images per second of training, wall seconds) of one run."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), EBM_STUDIO_THREADS=str(threads))
    launcher = [sys.executable] if procs == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    f"--nproc_per_node={procs}"]
    cmd = [*launcher, "-m", "ebm_studio", "train", "--out", str(out), "--steps", str(args.steps), "--width",
           str(args.width), "--batch-size", str(args.batch), "--limit", str(args.limit), "--device", "cpu",
           "--set", "train.contrast=0", "--quiet", "--no-tensorboard", "--autosave-minutes", "0"]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    wall = time.perf_counter() - t0
    with (out / "metrics.csv").open() as f:
        seconds = [float(r["seconds"]) for r in csv.DictReader(f)][args.warmup:]
    return args.batch * len(seconds) / sum(seconds), wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--limit", type=int, default=4096)
    p.add_argument("--single-thread", action="store_true", help="also one process with one thread")
    args = p.parse_args()
    setups = [(1, _cores())] + ([(1, 1)] if args.single_thread else []) + [(args.procs, max(1, _cores() // args.procs))]
    results: dict[tuple[int, int], list[float]] = {s: [] for s in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for procs, threads in setups:
                rate, wall = _run(Path(tmp) / f"r{r}-p{procs}-t{threads}", procs, threads, args)
                results[(procs, threads)].append(rate)
                print(f"round {r + 1}: {procs} process(es) x {threads} thread(s): "
                      f"{rate:.1f} images/s, {wall:.1f} s wall", flush=True)
    base = statistics.median(results[setups[0]])
    print(f"\nmedians on {_cores()} cores (global batch {args.batch}, width {args.width}):")
    for (procs, threads), rates in results.items():
        rate = statistics.median(rates)
        print(f"  {procs} process(es) x {threads} thread(s): {rate:.1f} images/s ({rate / base:.2f}x)")


if __name__ == "__main__":
    main()
