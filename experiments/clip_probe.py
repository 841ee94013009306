"""Does clipping the denoised estimate to the pixel range inside the ancestral sampler help?

    python experiments/clip_probe.py RUN_DIR [--n 500] [--variants none,clip,clipc]

The ancestral predictor step from level s to s' is the Gaussian posterior mean
(s'^2/s^2) x + (1 - s'^2/s^2) x0_hat plus noise, with x0_hat = x - s * grad g(x, s) (Tweedie).
DDPM samplers clip x0_hat to the data range ("clip_denoised", Ho et al. 2020) because a
half-trained denoiser's estimate strays outside it, and the error compounds down the ladder. MNIST
pixels are in [0, 1], so a stray estimate is certainly wrong. Variants: ``none`` (the shipped
sampler), ``clip`` (x0_hat clamped to [0, 1] in every predictor step), ``clipc`` (also the
corrector's Langevin move is replaced by a move toward the clipped estimate: x + a/s^2 (x0c - x)).
Same starts and seeds for every variant; figures from the quality meter.
"""

from __future__ import annotations

import argparse
import math
import sys

import torch
from probe_scoring import print_scores

from ebm_studio.core.accel import sampling_mode
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.conv.gradient import energy_and_grad
from ebm_studio.core.conv.sampler import gaussian_prior_of
from ebm_studio.core.precision import autocast_dtype
from ebm_studio.core.quality import load_meter


def ladder(s):
    n = s.levels
    return [s.sigma_max * (s.sigma_min / s.sigma_max) ** (i / max(1, n - 1)) for i in range(n)] + [0.0]


def draw(model, cfg, n, variant, seed, batch=250):
    s = cfg.sampler
    prec = autocast_dtype(s.precision, "cpu")
    sig = ladder(s)
    g = torch.Generator().manual_seed(seed)
    prior = gaussian_prior_of(model)
    out = []
    with sampling_mode(model):
        for start in range(0, n, batch):
            x = prior.from_uniform(torch.rand(min(batch, n - start), 1, 28, 28, generator=g)).contiguous()
            x = x + s.sigma_max * torch.randn(x.shape, generator=g)
            for lv, nxt in zip(sig[:-1], sig[1:]):
                for _ in range(s.steps_per_level - 1):  # corrector
                    a = 2.0 * (s.snr * lv) ** 2
                    _, grad = energy_and_grad(model, x, lv, prec)
                    if variant == "clipc":
                        x0 = (x - lv * grad).clamp(0, 1)
                        x = x + (a / lv**2) * (x0 - x)
                    else:
                        x = x - (a / lv) * grad
                    x = x + math.sqrt(2 * a) * torch.randn(x.shape, generator=g)
                _, grad = energy_and_grad(model, x, lv, prec)
                x0 = x - lv * grad
                if variant in ("clip", "clipc"):
                    x0 = x0.clamp(0, 1)
                r = (nxt / lv) ** 2
                x = r * x + (1 - r) * x0
                if nxt > 0:
                    x = x + nxt * math.sqrt(1 - r) * torch.randn(x.shape, generator=g)
            out.append(x.detach().float().clamp(0, 1))
    return torch.cat(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default="none,clip,clipc")
    ap.add_argument("--grid", default="")
    args = ap.parse_args(argv)
    run = load_run(args.run)
    meter = load_meter()
    for v in args.variants.split(","):
        x = draw(run.model.eval(), run.config, args.n, v, args.seed)
        print_scores(meter, x, f"{v:6s}", args.grid, f"_{v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
