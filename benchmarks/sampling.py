"""Samples in seconds: the few-step solvers against the 601-step predictor-corrector sampler.

    python benchmarks/sampling.py [--models pretrained,RUN] [--n 1000] [--precision fp32]
                                  [--configs pc:300,heun:18,dpm++2m:20] [--out DIR]

Issue #26's quality-speed curve, in one run and side by side with the baseline (``pc``, the
predictor-corrector chain over the 300-level training ladder that every model drew with before).
For each model and each ``method:steps`` it draws, from the same seeds and uniform noise,
  (1) 64 samples, timed (the window's Generate),
  (2) ``--n`` samples, timed, scored by the project's meter (FID, confidence, coverage, unsure),
and prints network evaluations per sample, seconds, the meter's figures and their differences to
the baseline. Grids of the 64 go to ``--out`` for viewing. Eager (no ``torch.compile``, so no
compile time to exclude), ``--threads`` torch threads, ``--precision`` arithmetic. A model is a
run folder or ``pretrained``; ``--train-minutes M`` first trains a default-recipe model for M
minutes with the CLI and adds it (the "5-minute model"). Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CONFIGS = ("pc:300,fast-pc:20,fast-pc:20:compiled,fast-pc:14,fast-pc:26,heun:10,heun:18,dpm++2m:20,"
                   "euler-a:40,euler-a:80")


def parse_configs(text: str) -> list[tuple[str, int, bool]]:
    """``method:levels[:compiled]`` items: pc's levels (2 steps each), fast-pc's levels above its
    cut, a solver's steps."""
    out = []
    for item in text.split(","):
        method, steps, *rest = item.strip().split(":")
        out.append((method, int(steps), rest == ["compiled"]))
    return out


def overrides(method: str, steps: int, precision: str, compiled: bool = False) -> dict:
    over = {"sampler.method": method, "sampler.compile": "on" if compiled else "off", "sampler.precision": precision}
    if method == "pc":
        over["sampler.levels"] = steps
    else:
        over["sampler.solver_steps"] = steps
    return over


def bench_model(spec: str, configs, n: int, precision: str, out: Path, meter) -> list[dict]:
    from ebm_studio.core.export import save_grid_png
    from ebm_studio.core.families import draw_from_noise
    from ebm_studio.core.models_io import open_model

    run = open_model(spec)
    rows = []
    for method, steps, compiled in configs:
        cfg = run.config.with_overrides(**overrides(method, steps, precision, compiled))
        nfe = cfg.sampler.evaluations()
        if compiled:  # compile once for the batch shape of the timed job (any ladder: sigma is a tensor)
            draw_from_noise(run.model, cfg.with_overrides(**{"sampler.solver_steps": 1}), 250, seed=9, batch=250)
            t64 = float("nan")  # a 64-batch would compile another shape; the window's Generate runs eager
        else:
            t = time.perf_counter()
            grid = draw_from_noise(run.model, cfg, 64, seed=1, batch=64)
            t64 = time.perf_counter() - t
        t = time.perf_counter()
        x = draw_from_noise(run.model, cfg, n, seed=0, batch=250)
        tn = time.perf_counter() - t
        rep = meter.evaluate(x)
        tag = f"{Path(spec).name}-{method}-{steps}"
        shown = (x[:64] if compiled else grid)[:, 0].numpy()
        save_grid_png(out / f"{tag}{'-compiled' if compiled else ''}.png", shown, 8, 8, scale=2)
        rows.append({"model": spec, "method": method + (" (compiled)" if compiled else ""), "steps": steps,
                     "nfe": nfe, "t64": t64, "tn": tn,
                     "fid": rep.fid, "conf": rep.confidence, "cov": rep.coverage_bits, "unsure": rep.unsure})
        print_row(rows[-1], rows[0], n, flush=True)
    return rows


HEAD = (f"{'model':>14s} {'sampler':>19s} {'steps':>5s} {'evals':>5s} {'64 (s)':>7s} {'n (s)':>7s} {'FID':>7s} "
        f"{'dFID':>6s} {'conf':>6s} {'dconf':>6s} {'cov':>6s} {'dcov':>6s} {'unsure':>6s}")


def print_row(r: dict, base: dict, n: int, flush: bool = False) -> None:
    dfid = (r["fid"] / base["fid"] - 1) * 100
    print(f"{Path(r['model']).name[:14]:>14s} {r['method']:>19s} {r['steps']:5d} {r['nfe']:5d} {r['t64']:7.2f} "
          f"{r['tn']:7.1f} {r['fid']:7.2f} {dfid:+5.0f}% {r['conf']:6.3f} {r['conf'] - base['conf']:+6.3f} "
          f"{r['cov']:6.3f} {r['cov'] - base['cov']:+6.3f} {r['unsure']:6.1%}", flush=flush)


def train_model(minutes: float, work: Path) -> str:
    run = work / f"default-{minutes:g}min"
    subprocess.run([sys.executable, "-m", "ebm_studio", "train", "--out", str(run), "--minutes", str(minutes),
                    "--quiet"], check=True)
    return str(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="pretrained", help="comma-separated run folders or 'pretrained'")
    ap.add_argument("--train-minutes", type=float, default=0.0, help="also train a default model this long")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help="method:steps,... (the first is the baseline)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ebm-sampling-bench")
    args = ap.parse_args()

    import torch

    from ebm_studio.core.quality.metrics import load_meter

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]
    if args.train_minutes > 0:
        models.append(train_model(args.train_minutes, args.out))
    configs = parse_configs(args.configs)
    meter = load_meter()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else "?"
    print(f"# {cpu}, {args.threads} threads, {args.precision}, eager, n = {args.n}, torch {torch.__version__}; "
          f"grids in {args.out}")
    print(HEAD)
    every = []
    for spec in models:
        every += bench_model(spec, configs, args.n, args.precision, args.out, meter)
    print("\nsummary (differences against each model's first row, the baseline):")
    print(HEAD)
    for spec in models:
        mine = [r for r in every if r["model"] == spec]
        for r in mine:
            print_row(r, mine[0], args.n)


if __name__ == "__main__":
    main()
