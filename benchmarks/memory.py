"""Peak memory of training the default model on CPU (target: <= 2 GiB), next to a baseline.

    python benchmarks/memory.py [--steps 200]

Each measurement runs in a fresh subprocess and reports its peak resident set size
(getrusage ru_maxrss): (a) the baseline — Python + torch + the bundled MNIST loaded, no model;
(b) training the default recipe (full MNIST-train, batch 128) for --steps steps through the same
TrainingSession the CLI and GUI use, including a checkpoint save.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

BASELINE = textwrap.dedent("""
    import resource, torch
    from ebm_studio.core.data import load_mnist
    load_mnist("train")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")
TRAIN = textwrap.dedent("""
    import resource, sys, tempfile, torch
    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.session import Budget, TrainingSession
    s = TrainingSession(RunConfig(), run_dir=tempfile.mkdtemp() + "/run", autosave_minutes=0)
    for _ in s.run(Budget(steps=int(sys.argv[1]))):
        pass
    s.save()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def peak_mib(code: str, *args: str) -> float:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    base = peak_mib(BASELINE)
    train = peak_mib(TRAIN, str(args.steps))
    print(f"peak RSS, baseline (torch + MNIST loaded): {base:8.0f} MiB")
    print(f"peak RSS, training default recipe {args.steps} steps: {train:8.0f} MiB  (target <= 2048 MiB)")


if __name__ == "__main__":
    main()
