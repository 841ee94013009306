"""Boltzmann-machine training speed: the studio's RBM trainer against a paysage-style loop.

    python benchmarks/rbm_speed.py [--hidden 200] [--steps 600] [--threads 1]

paysage 0.2.1 (the package seed 002 uses) downloads, but needs pandas, PyTables (HDF5),
torchvision, seaborn, numexpr and cytoolz, none of which the studio uses; so the baseline is a
faithful minimal numpy re-implementation of its inner loop for a Bernoulli RBM: PCD-1 block
Gibbs, the positive/negative statistics with E[h | v], and Adam on W, b, c, batch 100, on
pre-binarised data. It does less per step than the studio's trainer (no free energies, gradient
norm, divergence guard or record) and far less than paysage itself (which was measured at
~4.25 s/epoch for RBM-200 on this machine). Both run alternately in one process, in rounds, with
the same number of BLAS threads; the figure is seconds per epoch of MNIST-train (600 batches of
100), extrapolated from the median step time of the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _threads_from_argv(default: int = 1) -> int:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return default


# numpy's BLAS must get the same thread count as torch, set before numpy loads it
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(_threads_from_argv()))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ebm_studio.core.data import load_mnist  # noqa: E402
from ebm_studio.core.families import make_trainer  # noqa: E402
from ebm_studio.core.presets import preset_config  # noqa: E402


class NumpyPCD:
    def __init__(self, n_hidden: int, data: np.ndarray, lr: float = 5e-3, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        nv = data.shape[1]
        self.W = self.rng.normal(0, np.sqrt(2 / (nv + n_hidden)), (nv, n_hidden)).astype(np.float32)
        self.b = np.zeros(nv, np.float32)
        self.c = np.zeros(n_hidden, np.float32)
        self.params = [self.W, self.b, self.c]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.lr = lr
        self.data = data
        self.chains = (self.rng.random((100, nv)) < 0.5).astype(np.float32)

    @staticmethod
    def sig(x):
        return 1.0 / (1.0 + np.exp(-x))

    def step(self, batch: np.ndarray) -> None:
        hp = self.sig(batch @ self.W + self.c)
        h = (self.rng.random(hp.shape) < self.sig(self.chains @ self.W + self.c)).astype(np.float32)
        vp = self.sig(h @ self.W.T + self.b)
        self.chains = (self.rng.random(vp.shape) < vp).astype(np.float32)
        hn = self.sig(self.chains @ self.W + self.c)
        n = batch.shape[0]
        grads = [-(batch.T @ hp - self.chains.T @ hn) / n, -(batch - self.chains).mean(0), -(hp - hn).mean(0)]
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=200)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_mnist("train").images
    binary = (data.reshape(len(data), -1).numpy() > 0.5).astype(np.float32)
    base = NumpyPCD(args.hidden, binary)
    tr = make_trainer(preset_config("rbm").with_overrides(**{"model.hidden": [args.hidden]}), data)
    per_round = max(1, args.steps // args.rounds)
    ta, tb = [], []
    for r in range(args.rounds):
        t = time.perf_counter()
        for i in range(per_round):
            j = (r * per_round + i) % 600
            base.step(binary[j * 100:(j + 1) * 100])
        ta.append((time.perf_counter() - t) / per_round)
        t = time.perf_counter()
        list(tr.steps(per_round))
        tb.append((time.perf_counter() - t) / per_round)
    a, b = statistics.median(ta) * 600, statistics.median(tb) * 600
    print(f"RBM-{args.hidden}, PCD-1, batch 100, {args.threads} thread(s), median of {args.rounds} rounds: "
          "seconds per MNIST epoch")
    print(f"  numpy paysage-style loop : {a:6.2f} s")
    print(f"  EBM Studio trainer       : {b:6.2f} s   (x{a / b:.2f} the baseline's speed)")
    print("  paysage 0.2.1 (reported) :   4.25 s   (RBM-200, measured on this machine by the issue's author)")


if __name__ == "__main__":
    main()
