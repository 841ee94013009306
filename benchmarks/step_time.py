"""Where the time of a training step goes: the step's named parts and the heaviest operators.

    python benchmarks/step_time.py [--preset dsm] [--steps 30] [--threads 2] [--contrast] [--set KEY=VALUE ...]

Builds the recipe's trainer on MNIST-train exactly as ``train`` does (``families.make_trainer``),
runs a few warm-up steps, then profiles ``--steps`` steps of the trainer's own ``train_step`` under
``torch.profiler``. The step marks its parts with ``trainer.phase`` (batch, noise draw, energy and
input gradient, backward and optimiser, weight average, chart probe, contrast chains, divergence
guard), so the first table is the share of a step each part takes, beside the whole step's wall
time measured without the profiler (the baseline: the profiler's own overhead shows as the
difference). The second table lists the operators with the most self CPU time.
``--contrast``: the last phase of a budget, with the contrastive chains on (``refining``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile

from ebm_studio.cli.config_set import parse_overrides
from ebm_studio.core.data import load_mnist
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="dsm")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--contrast", action="store_true", help="profile the contrastive last phase")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--top", type=int, default=12, help="operators to list")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = preset_config(args.preset).with_overrides(**parse_overrides(args.set))
    t0 = time.perf_counter()
    trainer = make_trainer(cfg, load_mnist("train").images)
    setup = time.perf_counter() - t0
    if args.contrast:
        trainer.refining = True
    for _ in range(args.warmup):
        trainer.train_step()
    plain = []
    for _ in range(args.steps):  # the baseline: the same steps without the profiler
        t = time.perf_counter()
        trainer.train_step()
        plain.append(time.perf_counter() - t)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        profiled = (time.perf_counter() - t) / args.steps
    events = prof.key_averages()
    parts = sorted(((e.key[len("step: "):], e.cpu_time_total / 1e3 / args.steps) for e in events
                    if e.key.startswith("step: ")), key=lambda kv: -kv[1])
    step_ms = statistics.median(plain) * 1e3
    print(f"{args.preset}{' (contrast phase)' if args.contrast else ''}: {cpu_name()}, {torch.get_num_threads()} "
          f"thread(s), batch {cfg.train.batch_size}, precision {cfg.train.precision}; setup {setup:.1f} s")
    print(f"step wall time: {step_ms:.1f} ms median without the profiler, {profiled * 1e3:.1f} ms with it")
    print(f"\n{'part of the step':32s}{'ms/step':>10s}{'share':>9s}")
    for name, ms in parts:
        print(f"{name:32s}{ms:10.1f}{100 * ms / (profiled * 1e3):8.1f}%")
    rest = profiled * 1e3 - sum(ms for _, ms in parts)
    print(f"{'(outside the named parts)':32s}{rest:10.1f}{100 * rest / (profiled * 1e3):8.1f}%")
    ops = sorted((e for e in events if not e.key.startswith("step: ")), key=lambda e: -e.self_cpu_time_total)
    print(f"\n{'operator (self CPU time)':40s}{'ms/step':>10s}{'share':>9s}{'calls/step':>12s}")
    for e in ops[: args.top]:
        ms = e.self_cpu_time_total / 1e3 / args.steps
        print(f"{e.key[:40]:40s}{ms:10.1f}{100 * ms / (profiled * 1e3):8.1f}%{e.count / args.steps:12.1f}")
    print("\n(figures go in benchmarks/PERF.md)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
