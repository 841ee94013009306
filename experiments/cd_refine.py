"""Contrastive refinement of a DSM-trained energy on its own sampler's chains.

    python experiments/cd_refine.py RUN_DIR OUT_DIR [--minutes 20] [--weight 0.1] [--sigma-cd 0.35]

Why: denoising score matching trains the energy's gradient only near noised data. The chains
that end as dots or fragments wander where the net was never trained (experiments/dots_probe.py):
their energy there is whatever the net hedges. Contrastive divergence trains the energy exactly
where the sampler goes. Here a persistent pool of ancestral chains, staggered over the noise
ladder, supplies negatives at every level: a chain at level sigma is (approximately) a sample of
the model's p_sigma, and data + sigma z is a sample of the true one, so

    loss = DSM(data) + weight * mean over chains at sigma <= sigma_cd of [g(x+, sigma) - g(x-, sigma)]

with g = sigma * E the module's output (the sigma-weighting keeps small levels from dominating).
The pool is the core one (``ebm_studio.core.conv.chain_pool``; the trainer's ``train.contrast`` grew out of this
probe); here it is staggered over the ladder before training. Chains that finish the ladder are
replaced by new ones from the prior; their final states are
the model's samples, which the script scores with the quality meter as it goes.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time

import torch
from probe_scoring import print_scores

from ebm_studio.core.checkpoint import load_run, save_run
from ebm_studio.core.conv.chain_pool import ChainPool
from ebm_studio.core.data import load_mnist
from ebm_studio.core.families import draw_from_noise
from ebm_studio.core.precision import autocast_dtype
from ebm_studio.core.quality import load_meter


def make_pool(model, cfg, size: int, levels_per_update: int, generator: torch.Generator) -> ChainPool:
    """The core pool of the sampler's ancestral chains, started from the Gaussian fit as the sampler is."""
    s = cfg.sampler

    def start(n: int) -> torch.Tensor:
        return model.prior.from_uniform(torch.rand((n, 1, 28, 28), generator=generator))

    return ChainPool(s.sigma_max, s.sigma_min, s.levels, s.steps_per_level - 1, s.snr, size, start, generator,
                     precision=autocast_dtype(s.precision, "cpu"), levels_per_step=levels_per_update)


def dsm_loss(model, batch, sigma_min, sigma_max, g):
    n = batch.shape[0]
    lo, hi = math.log(sigma_min), math.log(sigma_max)
    sigma = torch.exp(hi - (hi - lo) * torch.rand((n, 1, 1, 1), generator=g))
    z = torch.randn(batch.shape, generator=g)
    noisy = (batch + sigma * z).requires_grad_(True)
    energy = model(noisy, sigma)
    (grad,) = torch.autograd.grad(energy.sum(), noisy, create_graph=True)
    return (grad - z).pow(2).mean()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--weight", type=float, default=0.1)
    ap.add_argument("--sigma-cd", type=float, default=0.35)
    ap.add_argument("--pool", type=int, default=256)
    ap.add_argument("--levels-per-update", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--reg", type=float, default=0.0, help="alpha * (g+^2 + g-^2)")
    ap.add_argument("--eval-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    run = load_run(args.run)
    cfg = run.config
    model = run.model.train()
    ema = copy.deepcopy(model).requires_grad_(False)
    data = load_mnist("train").images
    g = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    pool = make_pool(model, cfg, args.pool, args.levels_per_update, g)
    pool.KEEP_FINISHED = 400  # the progress lines score the last few hundred finished chains
    t0 = time.time()
    if args.minutes > 0:  # spread the chains over the ladder before training (the pool staggers them as it goes)
        for _ in range(-(-cfg.sampler.levels // args.levels_per_update)):
            pool.step(model)
        pool.finished = pool.finished[:0]
        print(f"staggered {args.pool} chains in {time.time() - t0:.0f} s", flush=True)
    meter = load_meter()
    s = cfg.sampler
    t0 = time.time()
    step = 0
    while time.time() - t0 < args.minutes * 60:
        pool.step(model)
        batch = data[torch.randint(len(data), (128,), generator=g)]
        loss_dsm = dsm_loss(model, batch, s.sigma_min, s.sigma_max, g)
        neg, sig = pool.negatives(args.sigma_cd)
        cd = torch.zeros(())
        if len(neg) and args.weight > 0:
            pos = data[torch.randint(len(data), (len(neg),), generator=g)]
            pos = pos + sig.view(-1, 1, 1, 1) * torch.randn(pos.shape, generator=g)
            e = model(torch.cat([pos, neg]), torch.cat([sig, sig]))
            e_pos, e_neg = e.chunk(2)
            cd = (e_pos - e_neg).mean()
            reg = args.reg * (e_pos.pow(2) + e_neg.pow(2)).mean()
        else:
            reg = torch.zeros(())
        loss = loss_dsm + args.weight * cd + reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        if torch.isfinite(gn):
            opt.step()
            with torch.no_grad():
                for e_, p in zip(ema.parameters(), model.parameters()):
                    e_.lerp_(p, 1 - args.ema)
        step += 1
        if step % 100 == 0:
            fin = pool.finished
            extra = ""
            if len(fin) >= 100:
                with torch.no_grad():
                    probs, _ = meter.predict(fin[-300:])
                extra = f"  pool samples conf {float(probs.max(1).values.mean()):.3f} (n={len(fin[-300:])})"
            print(f"step {step} {time.time() - t0:.0f}s dsm {float(loss_dsm):.4f} cd {float(cd.detach()):+.2f} "
                  f"gn {float(gn):.2f} negatives {len(neg)}{extra}", flush=True)
    save_run(args.out, ema.eval(), cfg, meta={"cd_refine": vars(args), "refine_steps": step})
    print(f"{step} updates; saved {args.out}", flush=True)
    if args.eval_n:
        x = draw_from_noise(ema.eval(), cfg, args.eval_n, seed=1, batch=args.eval_n)
        print_scores(meter, x, "refined", grid=f"{args.out}/grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
