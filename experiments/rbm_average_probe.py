"""Does a moving average of a short PCD run's weights cover more digits than its last weights?
(issue #28's 3-minute coverage target).

AIS samples of 3-minute RBMs (rbm_start_probe.py) put most of the model's mass on one or two
digits (1s for one seed, 9s and 7s for another): the imbalance is in the weights, not in where
the fantasy chains start. PCD's persistent chains herd around modes and the weights chase them
(the "fast weights" effect of Tieleman & Hinton 2009), so the last iterate sits wherever that
oscillation happened to be; an average over it should be more balanced.

Trains a Boltzmann recipe (``--preset``, default ``rbm``) for ``--seconds`` (one thread) while
keeping averages of the weights with each ``--decays``, then scores the last weights and each
average by 1000 Gibbs sweeps from uniform noise (the ``sample`` command's sampler) with the quality meter.

Usage: python experiments/rbm_average_probe.py [--seconds 180] [--seed 0] [--decays 0.99,0.999] [--preset rbm]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from ebm_studio.core.boltzmann.gibbs import gibbs_chain
from ebm_studio.core.data import load_mnist
from ebm_studio.core.families import make_trainer
from ebm_studio.core.presets import preset_config
from ebm_studio.core.quality.metrics import load_meter
from ebm_studio.core.weight_average import update_average


def fantasy(model, n: int, sweeps: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = None
    for step in gibbs_chain(model, torch.rand(n, 784, generator=g), sweeps, generator=g):
        x = step.x
    return x.reshape(-1, 1, 28, 28)


def train_with_averages(trainer, decays: list[float], seconds: float):
    """Drive ``trainer`` for ``seconds`` while keeping a moving average of its weights for each decay;
    the last record and {decay: averaged copy of the model}."""
    averages = {d: copy.deepcopy(trainer.model) for d in decays}
    t0 = time.monotonic()
    for record in trainer.steps():
        for d, avg in averages.items():
            update_average(avg, trainer.model, d, record.step)
        if time.monotonic() - t0 > seconds:
            break
    return record, averages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--decays", default="0.99,0.999")
    ap.add_argument("--preset", default="rbm", help="a Boltzmann recipe: rbm, rbm-centred, sparse-rbm, hopfield")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = preset_config(args.preset).with_overrides(**{"train.seed": args.seed})
    data = load_mnist("train").images
    trainer = make_trainer(cfg, data)
    decays = [float(d) for d in args.decays.split(",")]
    t0 = time.monotonic()
    record, averages = train_with_averages(trainer, decays, args.seconds)
    print(f"seed {args.seed}: {record.step} updates in {time.monotonic() - t0:.0f} s", flush=True)
    meter = load_meter()
    for name, model in [("last", trainer.model)] + [(f"ema {d}", m) for d, m in averages.items()]:
        r = meter.evaluate(fantasy(model.eval(), 1000, 1000, args.seed))
        print(f"{name:10s} FID {r.fid:6.1f}  confidence {r.confidence:.3f}  coverage {r.coverage_bits:.3f}  "
              f"classes {r.class_histogram}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
