"""Probe: noise-conditional energy trained by denoising score matching, sampled by annealed Langevin.

E(x, sigma) = g(x) / sigma; DSM with x~ = x + sigma z trains grad_x g(x~) to predict z
(NCSNv2's s(x)/sigma trick in energy form). Sampling: annealed Langevin from uniform noise over a
geometric sigma ladder, then one Tweedie denoising step.
"""
import argparse
import math
import sys
import time

import torch
from torch import nn

from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.data import load_mnist
from ebm_studio.core.export import save_grid_png

ap = argparse.ArgumentParser()
ap.add_argument("--arch", default="conv")
ap.add_argument("--width", type=int, default=32)
ap.add_argument("--minutes", type=float, default=4)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--smax", type=float, default=1.0)
ap.add_argument("--smin", type=float, default=0.02)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--out", default="/tmp/dsm")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


class DAEEnergy(nn.Module):
    """g(x) = 0.5 ||x - D(x)||^2 with a small conv encoder-decoder D."""
    def __init__(self, w=32):
        super().__init__()
        a = nn.SiLU
        self.enc = nn.Sequential(nn.Conv2d(1, w, 3, 1, 1), a(), nn.Conv2d(w, w, 4, 2, 1), a(),
                                 nn.Conv2d(w, 2 * w, 4, 2, 1), a(), nn.Conv2d(2 * w, 2 * w, 3, 1, 1), a())
        self.dec = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1), a(), nn.ConvTranspose2d(w, w, 4, 2, 1), a(),
                                 nn.Conv2d(w, 1, 3, 1, 1))

    def forward(self, x):
        return 0.5 * (x - self.dec(self.enc(x))).pow(2).flatten(1).sum(1)


g = ConvEnergy(args.width) if args.arch == "conv" else DAEEnergy(args.width)
print(sum(p.numel() for p in g.parameters()), "params")
data = load_mnist("train").images
opt = torch.optim.Adam(g.parameters(), lr=args.lr)
lsmin, lsmax = math.log(args.smin), math.log(args.smax)
t0 = time.time(); step = 0
while time.time() - t0 < args.minutes * 60:
    idx = torch.randint(0, len(data), (args.batch,))
    x = data[idx]
    sigma = torch.exp(lsmin + (lsmax - lsmin) * torch.rand(args.batch, 1, 1, 1))
    z = torch.randn_like(x)
    xt = (x + sigma * z).requires_grad_(True)
    e = g(xt)
    (grad,) = torch.autograd.grad(e.sum(), xt, create_graph=True)
    loss = (grad - z).pow(2).flatten(1).sum(1).mean()
    opt.zero_grad(); loss.backward(); opt.step(); step += 1
    if step % 100 == 0:
        print(f"step {step} loss {loss.item():.1f} {time.time()-t0:.0f}s", flush=True)
print("trained steps", step, "images", step * args.batch)


def sample(n, L=10, T=10, eps=2e-5, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen)
    sigmas = torch.exp(torch.linspace(math.log(args.smax), math.log(args.smin), L))
    for s in sigmas:
        a = eps * (s / sigmas[-1]) ** 2
        for _ in range(T):
            xx = x.detach().requires_grad_(True)
            (gr,) = torch.autograd.grad(g(xx).sum(), xx)
            x = x - a / s * gr + (2 * a).sqrt() * torch.randn(x.shape, generator=gen)
    xx = x.detach().requires_grad_(True)
    (gr,) = torch.autograd.grad(g(xx).sum(), xx)
    x = x - sigmas[-1] * gr
    return x.detach().clamp(0, 1)


from safetensors.torch import save_file

save_file(g.state_dict(), f"{args.out}_{args.arch}.safetensors")
for L, T, eps in [(10, 10, 1e-4), (10, 10, 3e-4), (10, 20, 1e-4), (20, 10, 2e-4)]:
    s = sample(100, L, T, eps)
    save_grid_png(f"{args.out}_{args.arch}_L{L}T{T}e{eps:g}.png", s, 10, 10, scale=2)
    try:
        from ebm_studio.core.quality import load_meter
        s = sample(500, L, T, eps, seed=2)
        print(L, T, eps, load_meter().evaluate(s).as_dict(), flush=True)
    except Exception as exc:
        print("meter unavailable", exc)
torch.save  # noqa
