"""The hostile corpus, all of it, against the CLI: totals of inputs, clean errors, crashes, hangs.

    python benchmarks/hostile.py [--root DIR] [--sample N] [--seed S] [--mode fork|spawn] [--json FILE]

Builds the corpus (scripts/hostile_corpus.py: ~600 cases), runs every case in its own process
(scripts/hostile_runner.py: timeout, address-space cap, peak RSS), and prints one line per
failure and the totals the README's reliability paragraph quotes. Exit status 1 if any case fails.
Run it with OMP_NUM_THREADS=1; on a shared 2-core CPU the full set takes ~15-30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from hostile_corpus import build_corpus  # noqa: E402
from hostile_runner import run_case, summarise  # noqa: E402


def warm_parent() -> None:
    """Import what every case needs once, so forked children start in milliseconds."""
    import torch

    torch.set_num_threads(1)
    import ebm_studio.cli  # noqa: F401
    from ebm_studio.core.data import load_mnist

    load_mnist("train")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "ebm-hostile")
    p.add_argument("--sample", type=int, help="run a random sample of this many cases")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", help="run the cases whose id contains this text")
    p.add_argument("--ids", help="run exactly these cases (comma-separated ids)")
    p.add_argument("--mode", choices=["fork", "spawn"], default="fork")
    p.add_argument("--timeout", type=float, default=90.0)
    p.add_argument("--json", type=Path, help="write the totals and failures here")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cases = build_corpus(args.root, seed=args.seed)
    if args.only:
        cases = [c for c in cases if args.only in c.id]
    if args.ids:
        wanted = args.ids.split(",")
        known = {c.id: c for c in cases}
        missing = [i for i in wanted if i not in known]
        if missing:
            p.error(f"no such case(s): {', '.join(missing)}")
        cases = [known[i] for i in wanted]
    if args.sample:
        cases = random.Random(args.seed).sample(cases, min(args.sample, len(cases)))
    if args.mode == "fork":
        warm_parent()
    t0 = time.monotonic()
    outcomes = []
    for i, case in enumerate(cases, 1):
        o = run_case(case, args.root / "work", timeout=args.timeout, mode=args.mode)
        outcomes.append(o)
        if o.failures:
            tail = o.stderr.strip().splitlines()[-1:] or [""]
            print(f"FAIL {case.id}: {', '.join(o.failures)} | {tail[0][:200]}", flush=True)
        if i % 50 == 0:
            print(f"... {i}/{len(cases)} cases, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    totals = summarise(outcomes)
    totals["wall_seconds"] = round(time.monotonic() - t0, 1)
    by_cat: dict[str, list[int]] = {}
    for o in outcomes:
        row = by_cat.setdefault(o.case.category, [0, 0])
        row[0] += 1
        row[1] += bool(o.failures)
    print(json.dumps(totals))
    print("by category (cases, failed): " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_cat.items())))
    if args.json:
        args.json.write_text(json.dumps({"totals": totals, "failures": [
            {"id": o.case.id, "argv": o.case.argv, "failures": o.failures, "tail": o.stderr[-600:]}
            for o in outcomes if o.failures]}, indent=2))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
