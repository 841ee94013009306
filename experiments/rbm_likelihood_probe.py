"""Which recipe gets a 20-minute RBM-500 to the issue's AIS <= -87 nats (issue #28)?

A 20-minute run costs 20 minutes, so one run scores several weight averages at once: it trains a
Boltzmann config (``--config``, default the shipped RBM-500's, with ``--set`` overrides as on
the command line) for ``--seconds`` on one thread while keeping a moving average of the weights
for each of ``--decays`` (the recipe's own ``train.ema`` average is one of them when it is in the
list), then gives the last weights and each average the ``evaluate`` command's test
log-likelihood: forward AIS (optimistic) and reverse AIS (conservative), ``--ais-betas``
temperatures, 5 runs x 100 chains, on the same fixed stochastic draw of MNIST-test.

Usage: python experiments/rbm_likelihood_probe.py [--seconds 1200] [--seed 0] [--decays 0.999,0.9999]
       [--ais-betas 3000] [--config CONFIG.toml] [--set train.weight_decay=1e-4 ...] [--out FILE.json]
       [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from rbm_average_probe import train_with_averages

from ebm_studio.cli.config_set import parse_overrides
from ebm_studio.cli.evaluate import likelihood_sets
from ebm_studio.core.boltzmann.ais import log_likelihood_figures
from ebm_studio.core.checkpoint import save_run
from ebm_studio.core.config import load_config
from ebm_studio.core.data import load_mnist
from ebm_studio.core.families import make_trainer

SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "pretrained" / "rbm" / "config.toml"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1200.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--decays", default="0.999,0.9999")
    ap.add_argument("--ais-betas", type=int, default=3000)
    ap.add_argument("--config", type=Path, default=SHIPPED)
    ap.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    ap.add_argument("--save", type=Path, default=None,
                    help="write each scored model as a run directory DIR/<name> (a candidate to ship)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    overrides = {**parse_overrides(args.assignments), "train.seed": args.seed}
    cfg = load_config(args.config).with_overrides(**overrides)
    data = load_mnist("train").images
    trainer = make_trainer(cfg, data)
    decays = [float(d) for d in args.decays.split(",") if d]
    t0 = time.monotonic()
    record, averages = train_with_averages(trainer, decays, args.seconds)
    head = {"overrides": overrides, "updates": record.step, "epochs": round(record.epoch, 1),
            "seconds": round(time.monotonic() - t0)}
    print(json.dumps(head), flush=True)
    train, test = likelihood_sets(cfg.train.binarize)  # the data and the draw of ``evaluate``
    results = {}
    for name, model in [("last", trainer.model)] + [(f"ema {d}", m) for d, m in averages.items()]:
        fig = log_likelihood_figures(model.eval(), train, test, n_betas=args.ais_betas, seed=0)
        results[name] = fig
        if args.save is not None:
            save_run(args.save / name.replace(" ", "_"), model, cfg, meta={"step": record.step})
        fwd, rev = fig["test_log_likelihood_nats"], fig["test_log_likelihood_reverse_ais_nats"]
        z = f"{fig['ais_log_z']:.2f} ± {fig['ais_log_z_stderr']:.2f}"
        z_rev = f"{fig['reverse_ais_log_z']:.2f} ± {fig['reverse_ais_log_z_stderr']:.2f}"
        print(f"{name:12s} LL forward {fwd:8.2f}  reverse {rev:8.2f}  (log Z {z} / {z_rev})", flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps({**head, "figures": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
