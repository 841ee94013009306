"""Langevin sampling and training-step throughput: the shipped code against a plain eager loop.

    python benchmarks/langevin.py [--threads 2] [--rounds 5] [--steps 20]

For each energy net (the default recipe's and the UvA-tutorial-shaped CD net) and batch sizes
64/128/256, measures in one process, alternating, the median over rounds of
  (a) a plain eager PyTorch Langevin loop written here as the baseline, and
  (b) the project's sampler as shipped, for a single chain (``families.sample_chain`` with a
      constant schedule; eager: what the canvas and the gallery run), and
  (c) the shipped sampler in a batch job (``draw_from_noise``: evaluate, sample, compare), which
      the default ``sampler.compile = "auto"`` runs compiled once the job has >= 200k image-steps
      (its one-off compile is not timed; PERF.md has its cost),
and prints image-steps/s, FLOPs per image-step (counted by torch's FlopCounterMode), achieved
GFLOP/s, the percentage of peaks measured in the same run (a large fp32 matmul; a bf16 one, which
AMX units make several times faster and which the shipped sampler's bf16 autocast can use, see
``core/precision.py``), and (b)/(a). The sampler's precision is reported in the header.
Then the same for one full training iteration of each recipe (DSM step; CD step with 20 steps).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ebm_studio.core.config import RunConfig
from ebm_studio.core.families import build_model, make_trainer, sample_chain
from ebm_studio.core.presets import preset_config


def measure_peak(reps: int = 5, dtype=torch.float32) -> float:
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t))
    return best / 1e9


def baseline_loop(model, x, steps, step_size=0.01, noise=0.005):
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        x = (x - step_size * g + noise * torch.randn_like(x)).clamp(0, 1)
    return x.detach()


def shipped_loop(model, cfg, x, steps, compile=None):
    last = None
    for last in sample_chain(model, cfg, x, steps=steps, compile=compile):
        pass
    return last.x


def flops_per_image_step(model, batch=8) -> float:
    """Forward pass plus the input gradient (what one Langevin step computes), per image."""
    flags = [p.requires_grad for p in model.parameters()]
    model.requires_grad_(False)
    leaf = torch.rand(batch, 1, 28, 28).requires_grad_(True)
    x = leaf * 1.0  # FlopCounterMode cannot differentiate with respect to a leaf
    with FlopCounterMode(display=False) as fc:
        (g,) = torch.autograd.grad(model(x).sum(), x)
    for p, f in zip(model.parameters(), flags):
        p.requires_grad_(f)
    return fc.get_total_flops() / batch


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batches", default="64,128,256")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = measure_peak()
    peak16 = measure_peak(dtype=torch.bfloat16)
    from ebm_studio.core.precision import autocast_dtype

    print(f"threads {args.threads}; measured matmul peak fp32 {peak:.1f} GFLOP/s, bf16 {peak16:.1f} GFLOP/s; "
          f"shipped precision: {autocast_dtype('auto', 'cpu') or torch.float32}; load {os.getloadavg()[0]:.2f}")
    nets = {f"default (dsm, width {RunConfig().model.width})": RunConfig(), "cd-uva (width 16)": preset_config("cd-uva")}
    print(f"\n{'net':26s}{'batch':>6s}{'MFLOP/img-step':>16s}{'baseline img-steps/s':>22s}{'shipped img-steps/s':>21s}"
          f"{'GFLOP/s':>9s}{'% fp32 pk':>10s}{'% bf16 pk':>10s}{'ratio':>7s}"
          f"{'batch-job img-steps/s':>22s}{'% fp32 pk':>10s}{'ratio':>7s}")
    for name, cfg in nets.items():
        cfg = cfg.with_overrides(**{"sampler.schedule": "constant", "sampler.grad_clip": 0.0,
                                    "sampler.step_size": 0.01, "sampler.noise": 0.005})
        model = build_model(cfg).eval()
        fl = flops_per_image_step(model)
        for bs in [int(b) for b in args.batches.split(",")]:
            x = torch.rand(bs, 1, 28, 28)
            baseline_loop(model, x, 2)
            shipped_loop(model, cfg, x, 2)
            shipped_loop(model, cfg, x, 2, True)  # compiles (once per net and batch shape; not timed)
            ta, tb, tc = [], [], []
            for _ in range(args.rounds):
                ta.append(timed(baseline_loop, model, x, args.steps))
                tb.append(timed(shipped_loop, model, cfg, x, args.steps))
                tc.append(timed(shipped_loop, model, cfg, x, args.steps, True))
            ra = bs * args.steps / statistics.median(ta)
            rb = bs * args.steps / statistics.median(tb)
            rc = bs * args.steps / statistics.median(tc)
            gf, gc = rb * fl / 1e9, rc * fl / 1e9
            print(f"{name:26s}{bs:6d}{fl / 1e6:16.2f}{ra:22.0f}{rb:21.0f}{gf:9.1f}{100 * gf / peak:10.1f}"
                  f"{100 * gf / peak16:10.1f}{rb / ra:7.2f}{rc:22.0f}{100 * gc / peak:10.1f}{rc / ra:7.2f}")
    print(f"\n{'training iteration':36s}{'batch':>6s}{'baseline it/s':>15s}{'shipped it/s':>14s}{'ratio':>7s}")
    from ebm_studio.core.data import load_mnist

    data = load_mnist("train", limit=4096).images
    for name, cfg in {"dsm (default)": RunConfig(),
                      "cd-uva, 20 Langevin steps": preset_config("cd-uva").with_overrides(**{"sampler.steps": 20})}.items():
        bs = cfg.train.batch_size
        tr = make_trainer(cfg, data)
        model = build_model(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def baseline_iter():
            batch = data[torch.randint(0, len(data), (bs,))]
            if cfg.train.objective == "dsm":
                sigma = torch.exp(torch.empty(bs, 1, 1, 1).uniform_(-3.9, 0.0))
                z = torch.randn_like(batch)
                xt = (batch + sigma * z).requires_grad_(True)
                (g,) = torch.autograd.grad(model(xt).sum(), xt, create_graph=True)
                loss = (g - z).pow(2).mean()
            else:
                neg = baseline_loop(model, torch.rand_like(batch), cfg.sampler.steps, 10.0 * 0.003, 0.005)
                e = model(torch.cat([batch, neg]))
                loss = e[:bs].mean() - e[bs:].mean() + 0.1 * e.pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        baseline_iter()
        tr.train_step()
        ta, tb = [], []
        for _ in range(args.rounds):
            ta.append(timed(lambda: [baseline_iter() for _ in range(3)]))
            tb.append(timed(lambda: [tr.train_step() for _ in range(3)]))
        ra, rb = 3 / statistics.median(ta), 3 / statistics.median(tb)
        print(f"{name:36s}{bs:6d}{ra:15.2f}{rb:14.2f}{rb / ra:7.2f}")


if __name__ == "__main__":
    main()
