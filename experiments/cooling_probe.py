"""Does cooling the ancestral sampler below some noise level keep strokes from fading?

    python experiments/cooling_probe.py RUN_DIR [--n 500] [--variants 1:0,0.8:0.4,...]

Each variant TAU:SIGMA scales the injected noise of every sampler step at levels below SIGMA by
TAU (TAU:0 = no cooling; SIGMA 9 = every level). The class of a sample is settled at large sigma,
so cooling only the small levels may keep the thin strokes that a half-trained denoiser lets fade
there (experiments/dots_probe.py) without drawing ever more 1s, as cooling everything does.
Same starts and seeds for every variant; figures from the quality meter.
"""

from __future__ import annotations

import argparse
import sys

import torch
from probe_scoring import print_scores

from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.conv.langevin import langevin_chain
from ebm_studio.core.conv.sampler import gaussian_prior_of
from ebm_studio.core.conv.schedules import ancestral_schedule
from ebm_studio.core.precision import autocast_dtype
from ebm_studio.core.quality import load_meter


def draw(model, cfg, n, tau, below, seed, batch=250):
    s = cfg.sampler
    sched = ancestral_schedule(s.sigma_max, s.sigma_min, s.levels, corrector=s.steps_per_level - 1, snr=s.snr)
    sched = [(a, (b * tau if 0 < sig < below and i > 0 else b), sig) for i, (a, b, sig) in enumerate(sched)]
    g = torch.Generator().manual_seed(seed)
    prior = gaussian_prior_of(model)
    out = []
    for start in range(0, n, batch):
        x0 = prior.from_uniform(torch.rand(min(batch, n - start), 1, 28, 28, generator=g))
        last = None
        for last in langevin_chain(model, x0, grad_clip=None, clamp=None, generator=g, schedule=sched,
                                   precision=autocast_dtype(s.precision, "cpu")):
            pass
        out.append(last.x.detach().float().clamp(0, 1))
    return torch.cat(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default="1:0,0.8:0.4,0.8:9,0.9:0.4")
    ap.add_argument("--grid", default="")
    args = ap.parse_args(argv)
    run = load_run(args.run)
    meter = load_meter()
    for v in args.variants.split(","):
        tau, below = (float(t) for t in v.split(":"))
        x = draw(run.model.eval(), run.config, args.n, tau, below, args.seed)
        print_scores(meter, x, f"tau {tau:.2f} below sigma {below:<4}", args.grid, f"_{tau}_{below}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
