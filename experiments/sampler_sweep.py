"""Sweep the sampler's settings on a trained run; score with the quality meter.

    python experiments/sampler_sweep.py RUN_DIR [N] levels=300,snr=0.2 ...

Grids go to $OUT (default: experiments_out/ in the current directory)."""
import os
import sys
import time
from pathlib import Path

import torch

from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.families import sample_chain
from ebm_studio.core.quality import load_meter


def main() -> None:
    torch.set_num_threads(2)
    out = Path(os.environ.get("OUT", "experiments_out"))
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(sys.argv[1])
    meter = load_meter()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    for spec in sys.argv[3:]:
        over = dict(kv.split("=") for kv in spec.split(","))
        over = {f"sampler.{k}": (int(v) if k in ("levels", "steps_per_level") else float(v)) for k, v in over.items()}
        cfg = run.config.with_overrides(**over)
        g = torch.Generator().manual_seed(0)
        t = time.time()
        last = None
        for last in sample_chain(run.model, cfg, torch.rand(n, 1, 28, 28, generator=g), generator=g):
            pass
        r = meter.evaluate(last.x)
        save_grid_png(out / f"sweep_{spec}.png", last.x[:64], 8, 8, scale=2)
        print(f"{spec:50s} fid {r.fid:8.1f} conf {r.confidence:.3f} cov {r.coverage_bits:.2f} nn {r.nn_distance:.2f} {time.time()-t:.0f}s", flush=True)


if __name__ == "__main__":
    main()
