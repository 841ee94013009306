"""Compare Langevin-type samplers on a trained noise-conditional energy E(x)/sigma.

The denoiser implied by the energy is D(x, s) = x - s * grad E(x) (Tweedie). Besides annealed
Langevin, try the ancestral (DDPM-like, variance-exploding) sampler and a predictor-corrector
mix, both driven by the same energy gradient.
"""
import math
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
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    out = Path(os.environ.get("OUT", "experiments_out"))  # the grids
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(sys.argv[1]); model = run.model.eval()
    meter = load_meter()
    n = int(sys.argv[2])

    def grad_e(x):
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        return g

    def sigmas(smax, smin, k):
        r = (smin / smax) ** (1 / (k - 1))
        return [smax * r**i for i in range(k)]

    def ancestral(x, k=100, smax=1.0, smin=0.01, corr=0, snr=0.16, g=None):
        sig = sigmas(smax, smin, k)
        x = x + smax * torch.randn(x.shape, generator=g)
        for i, s in enumerate(sig):
            for _ in range(corr):  # Langevin corrector at level s (Song et al. 2021, snr rule)
                gr = grad_e(x) / s
                z = torch.randn(x.shape, generator=g)
                eps = 2 * (snr * z.flatten(1).norm(dim=1).mean() / gr.flatten(1).norm(dim=1).mean()) ** 2
                x = x - eps * gr + (2 * eps) ** 0.5 * z
            nxt = sig[i + 1] if i + 1 < k else 0.0
            d = s * s - nxt * nxt
            x = x - d / s * grad_e(x)
            if nxt > 0:
                x = x + math.sqrt(nxt * nxt * d / (s * s)) * torch.randn(x.shape, generator=g)
        return x

    def heun(x, k=30, smax=1.0, smin=0.01, g=None, churn=0.0):
        sig = sigmas(smax, smin, k) + [0.0]
        x = x + smax * torch.randn(x.shape, generator=g)
        for i in range(k):
            s, nxt = sig[i], sig[i + 1]
            if churn > 0:
                gamma = min(churn / k, 2 ** 0.5 - 1)
                sh = s * (1 + gamma)
                x = x + (sh * sh - s * s) ** 0.5 * torch.randn(x.shape, generator=g); s = sh
            dx = grad_e(x)  # dx/dsigma = (x - D)/sigma = grad E
            xn = x + (nxt - s) * dx
            if nxt > 0:
                xn = x + (nxt - s) * 0.5 * (dx + grad_e(xn))
            x = xn
        return x

    for spec in sys.argv[3:]:
        name, *kv = spec.split(",")
        kw = {a: (int(b) if b.isdigit() else float(b)) for a, b in (p.split("=") for p in kv)}
        g = torch.Generator().manual_seed(0)
        x0 = torch.rand(n, 1, 28, 28, generator=g)
        t = time.time()
        if name == "langevin":
            cfg = run.config.with_overrides(**{f"sampler.{a}": b for a, b in kw.items()})
            for last in sample_chain(model, cfg, x0, generator=g): pass
            x = last.x
        else:
            x = {"ancestral": ancestral, "heun": heun}[name](x0, g=g, **kw)
        x = x.detach().clamp(0, 1)
        r = meter.evaluate(x)
        save_grid_png(out / f"{spec}.png", x[:100], 10, 10, scale=2)
        print(f"{spec:45s} fid {r.fid:7.1f} conf {r.confidence:.3f} cov {r.coverage_bits:.2f} nn {r.nn_distance:.2f} {time.time()-t:.0f}s", flush=True)


if __name__ == "__main__":
    main()
