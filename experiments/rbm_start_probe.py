"""Where an RBM's fantasy particles start, and what that does to the digits they cover (issue #28's
3-minute coverage target).

Chains from uniform noise start with half the pixels on, far denser than any digit, so the first
sweep's hidden units see a fat blob and most chains fall into the basins of fat digits (0, 8),
hardly ever into the thin 1. Compared here on one trained RBM, 1000 particles each, the same
number of sweeps:

- ``uniform``: today's start (uniform noise, then plain Gibbs);
- ``base-rate``: independent pixels at the training data's rates (AIS's base model), then plain Gibbs;
- ``ais``: the AIS path from that base model to the RBM (one sweep a temperature), its last states;
- ``ais-resampled``: the same states resampled by their importance weights.

Usage: python experiments/rbm_start_probe.py RUN_DIR [--n 1000] [--sweeps 1000] [--seed 0]
"""

from __future__ import annotations

import argparse

import torch

from ebm_studio.core.boltzmann.ais import _anneal, base_rate_bias, temperatures
from ebm_studio.core.boltzmann.gibbs import gibbs_chain
from ebm_studio.core.boltzmann.rbm import sample_bernoulli
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.data import load_mnist
from ebm_studio.core.quality.metrics import load_meter


def last(chain) -> torch.Tensor:
    x = None
    for step in chain:
        x = step.x
    return x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--sweeps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="uniform,base-rate,ais,ais-resampled")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    run = load_run(args.run)
    rbm = run.model.eval()
    train = load_mnist("train", limit=10000).images.reshape(-1, 784)
    base = base_rate_bias((train > 0.5).float())
    meter = load_meter()
    g = torch.Generator().manual_seed(args.seed)
    for name in args.only.split(","):
        if name == "uniform":
            x0 = torch.rand(args.n, 784, generator=g)
            x = last(gibbs_chain(rbm, x0, args.sweeps, generator=g))
        elif name == "base-rate":
            x0 = torch.sigmoid(base).expand(args.n, -1).clone()
            x = last(gibbs_chain(rbm, x0, args.sweeps, generator=g))
        else:
            with torch.no_grad():
                v = sample_bernoulli(torch.sigmoid(base).expand(args.n, -1), g)
                log_w, v = _anneal(rbm, base, v, temperatures(args.sweeps), g)
                if name == "ais-resampled":
                    v = v[torch.multinomial(torch.softmax(log_w, 0), args.n, replacement=True, generator=g)]
                x = rbm.visible_mean(rbm.sample_hidden(v, g))
        r = meter.evaluate(x.reshape(-1, 1, 28, 28))
        print(f"{name:14s} FID {r.fid:6.1f}  confidence {r.confidence:.3f}  coverage {r.coverage_bits:.3f}  "
              f"classes {r.class_histogram}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
