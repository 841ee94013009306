"""Probe: which energy architecture makes a good noise-conditional energy in minutes on a CPU?

E(x, sigma) = g(x, sigma) / sigma, trained by DSM (|| grad_x g(x~, sigma) - z ||^2), sampled by
annealed Langevin (the project's default sampler) and scored by the quality meter.
  base : the project's ConvEnergy(width), blind to sigma (NCSNv2's s(x)/sigma trick)
  cond : the same conv net, told sigma (log-sigma input channel + FiLM of every hidden layer)
  mlp  : a sigma-conditioned MLP (GEMMs run near the CPU's peak)
"""
import argparse
import json
import math
import time

import torch
from torch import nn

from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.data import load_mnist
from ebm_studio.core.export import save_grid_png
from ebm_studio.core.quality import load_meter

ap = argparse.ArgumentParser()
ap.add_argument("--arch", default="cond")
ap.add_argument("--width", type=int, default=32)
ap.add_argument("--hidden", type=int, default=1024)
ap.add_argument("--minutes", type=float, default=5)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--smax", type=float, default=1.0)
ap.add_argument("--smin", type=float, default=0.02)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--ema", type=float, default=0.999)
ap.add_argument("--eps", type=float, default=3e-4)
ap.add_argument("--n", type=int, default=500)
ap.add_argument("--out", default="/tmp/q/probe")
ap.add_argument("--load", default=None, help="evaluate these saved weights instead of training")
ap.add_argument("--skew", type=float, default=1.0, help="log-sigma = top - range * u**skew: >1 trains more at large sigma")
ap.add_argument("--k", type=int, default=100, help="ancestral steps")
ap.add_argument("--corr", type=int, default=0, help="Langevin corrector steps per ancestral step")
ap.add_argument("--snr", type=float, default=0.1)
ap.add_argument("--levels", type=int, default=10)
ap.add_argument("--per", type=int, default=10)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
act = nn.SiLU


class SigmaEmbed(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.register_buffer("freq", torch.arange(1, dim // 2 + 1).float())
        self.mlp = nn.Sequential(nn.Linear(dim, dim), act())

    def forward(self, sigma):
        t = torch.log(sigma.reshape(-1, 1)) / 4.0
        return self.mlp(torch.cat([torch.sin(t * self.freq), torch.cos(t * self.freq)], 1))


class Base(nn.Module):
    def __init__(self, w):
        super().__init__(); self.net = ConvEnergy(w)
    def forward(self, x, sigma):
        return self.net(x)


class Cond(nn.Module):
    def __init__(self, w):
        super().__init__()
        c = [w, 2 * w, 4 * w, 4 * w]
        self.convs = nn.ModuleList([nn.Conv2d(2, c[0], 5, 2, 4), nn.Conv2d(c[0], c[1], 3, 2, 1),
                                    nn.Conv2d(c[1], c[2], 3, 2, 1), nn.Conv2d(c[2], c[3], 3, 2, 1)])
        self.emb = SigmaEmbed(64)
        self.film = nn.ModuleList([nn.Linear(64, 2 * k) for k in c])
        self.head = nn.Sequential(nn.Linear(c[3] * 4, c[3]), act(), nn.Linear(c[3], 1))
        self.a = act()

    def forward(self, x, sigma):
        e = self.emb(sigma)
        h = torch.cat([x * 2 - 1, torch.log(sigma).expand(x.shape[0], 1, 28, 28) / 4], 1)
        for conv, film in zip(self.convs, self.film):
            s, b = film(e).chunk(2, 1)
            h = self.a(conv(h) * (1 + s[:, :, None, None]) + b[:, :, None, None])
        return self.head(h.flatten(1)).squeeze(-1)


class MLP(nn.Module):
    def __init__(self, hdim):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(784, hdim), nn.Linear(hdim, hdim), nn.Linear(hdim, 1)
        self.emb = SigmaEmbed(64)
        self.f1, self.f2 = nn.Linear(64, 2 * hdim), nn.Linear(64, 2 * hdim)
        self.a = act()

    def forward(self, x, sigma):
        e = self.emb(sigma)
        s1, b1 = self.f1(e).chunk(2, 1); s2, b2 = self.f2(e).chunk(2, 1)
        h = self.a(self.l1(x.flatten(1) * 2 - 1) * (1 + s1) + b1)
        h = self.a(self.l2(h) * (1 + s2) + b2)
        return self.l3(h).squeeze(-1)


class Gauss(nn.Module):
    """Adds the exact energy of a Gaussian fit of the data, noised at sigma, to a residual net:
    sigma * E(x, sigma) = sigma * 0.5 (x-mu)^T (Sigma + sigma^2 I)^-1 (x-mu) + g(x, sigma)."""
    def __init__(self, net, data):
        super().__init__()
        self.net = net
        x = data.reshape(-1, 784).double()
        mu = x.mean(0)
        lam, u = torch.linalg.eigh(torch.cov((x - mu).T))
        self.register_buffer("mu", mu.float()); self.register_buffer("u", u.float())
        self.register_buffer("lam", lam.clamp_min(0).float())

    def forward(self, x, sigma):
        c = (x.flatten(1) - self.mu) @ self.u
        s2 = sigma.reshape(-1, 1) ** 2
        gauss = 0.5 * (c * c / (self.lam + s2)).sum(1) * sigma.reshape(-1)
        return gauss + self.net(x, sigma)


data = load_mnist("train").images
g = {"base": lambda: Base(args.width), "cond": lambda: Cond(args.width), "mlp": lambda: MLP(args.hidden),
     "gbase": lambda: Gauss(Base(args.width), data), "gcond": lambda: Gauss(Cond(args.width), data)}[args.arch]()
if args.load:
    g.load_state_dict(torch.load(args.load))
ema = __import__("copy").deepcopy(g).requires_grad_(False)
print(sum(p.numel() for p in g.parameters()), "params", flush=True)
opt = torch.optim.Adam(g.parameters(), lr=args.lr)
lsmin, lsmax = math.log(args.smin), math.log(args.smax)
t0 = time.time(); step = 0
while time.time() - t0 < args.minutes * 60:
    x = data[torch.randint(0, len(data), (args.batch,))]
    sigma = torch.exp(lsmax - (lsmax - lsmin) * torch.rand(args.batch, 1, 1, 1) ** args.skew)
    z = torch.randn_like(x)
    xt = (x + sigma * z).requires_grad_(True)
    (grad,) = torch.autograd.grad(g(xt, sigma).sum(), xt, create_graph=True)
    loss = (grad - z).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step(); step += 1
    d = min(args.ema, (1 + step) / (10 + step))
    with torch.no_grad():
        for e_, p in zip(ema.parameters(), g.parameters()):
            e_.lerp_(p, 1 - d)
    if step % 200 == 0:
        print(f"step {step} loss {loss.item():.3f} {time.time()-t0:.0f}s", flush=True)
train_s = time.time() - t0


def gradient(x, s):
    x = x.detach().requires_grad_(True)
    sig = torch.full((x.shape[0], 1, 1, 1), s)
    (gr,) = torch.autograd.grad(ema(x, sig).sum(), x)
    return gr


def annealed(n, gen, levels=args.levels, per=args.per, eps=args.eps):
    x = torch.rand(n, 1, 28, 28, generator=gen)
    r = (args.smin / args.smax) ** (1 / (levels - 1))
    for i in range(levels):
        s = args.smax * r**i
        a = eps * (s / args.smin) ** 2
        for _ in range(per):
            x = (x - a / s * gradient(x, s) + math.sqrt(2 * a) * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    return (x - args.smin * gradient(x, args.smin)).clamp(0, 1)


def ancestral(n, gen, k=args.k):
    x = torch.rand(n, 1, 28, 28, generator=gen)
    sig = [args.smax * (args.smin / args.smax) ** (i / (k - 1)) for i in range(k)]
    x = x + args.smax * torch.randn(x.shape, generator=gen)
    for i, s in enumerate(sig):
        for _ in range(args.corr):
            gr = gradient(x, s) / s
            z = torch.randn(x.shape, generator=gen)
            eps = 2 * (args.snr * z.flatten(1).norm(dim=1).mean() / gr.flatten(1).norm(dim=1).mean()) ** 2
            x = x - eps * gr + (2 * eps) ** 0.5 * z
        nxt = sig[i + 1] if i + 1 < k else 0.0
        dd = s * s - nxt * nxt
        x = x - dd / s * gradient(x, s)
        if nxt > 0:
            x = x + math.sqrt(nxt * nxt * dd / (s * s)) * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1)


meter = load_meter()
out = {"arch": args.arch, "steps": step, "train_s": round(train_s)}
for name, fn in (("annealed", annealed), ("ancestral", ancestral)):
    gen = torch.Generator().manual_seed(1)
    xs = torch.cat([fn(min(250, args.n - i), gen) for i in range(0, args.n, 250)])
    r = meter.evaluate(xs)
    save_grid_png(f"{args.out}_{name}.png", xs[:100], 10, 10, scale=2)
    out[name] = dict(fid=round(r.fid, 1), conf=round(r.confidence, 3), cov=round(r.coverage_bits, 2), nn=round(r.nn_distance, 2))
print(json.dumps(out), flush=True)
torch.save(ema.state_dict(), f"{args.out}.pt"); torch.save(g.state_dict(), f"{args.out}_raw.pt")
