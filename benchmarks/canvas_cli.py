"""The canvas on the command line, measured: inpainting and denoising of real MNIST-test digits,
each beside a simple baseline.

    python benchmarks/canvas_cli.py [--model pretrained] [--n 200] [--steps N] [--threads 2]

- Inpainting: the top half (rows 0-13) of each test digit is clamped, the bottom half starts
  blank, and ``ebm-studio inpaint``'s code path (``cli.canvas.complete``: the canvas's
  ChainPlayer, annealed from the model's sigma_max) fills it in. Figure: the share of
  completions the quality meter's classifier calls the true digit. Baseline: nearest-neighbour
  completion, the bottom half of the MNIST-train digit whose top half is nearest (L2). Both the
  first chain's completion (one draw) and ``inpaint``'s default, the lowest-energy completion of
  ``--inpaint-chains`` chains (``landscape.lowest_energy``), from the same chains.
  For scale: the meter on the untouched digits and on the top halves alone (bottom blank).
- Denoising at sigma = 0.3: Gaussian noise added to each test digit (not clipped; the noise the
  model is told), ``ebm-studio denoise --sigma 0.3``'s path walks the ladder down from 0.3, with
  one chain per image (a posterior sample) and the mean of ``--chains`` of them (``denoise
  --chains K``), and the least-squares estimate itself by Tweedie's formula (``denoise --mmse``).
  Figures: mean squared error against the clean digit, and the share the meter still calls the
  true digit. Baseline: a 3x3 Gaussian blur (kernel [1 2 1]^T [1 2 1] / 16), clipped to [0, 1];
  and the noisy input itself.

Prints a table (and the figures as JSON on stdout). Figures go in benchmarks/QUALITY.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from ebm_studio.cli.canvas import complete, mmse_denoise
from ebm_studio.core.conv.gradient import takes_sigma
from ebm_studio.core.data import load_mnist
from ebm_studio.core.landscape import lowest_energy
from ebm_studio.core.models_io import open_model
from ebm_studio.core.quality import load_meter

HALF = 14


def test_halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` random MNIST-test digits (``seed``): the digits (n, 28, 28), their labels, and the digits
    with the bottom half blanked, as every inpainting figure here and in experiments/ uses them."""
    test = load_mnist("test")
    pick = torch.randperm(len(test.labels), generator=torch.Generator().manual_seed(seed))[:n]
    clean, labels = test.images[pick, 0], test.labels[pick]
    tops = clean.clone()
    tops[:, HALF:] = 0.0
    return clean, labels, tops


def probe_parser(description: str) -> argparse.ArgumentParser:
    """The arguments the inpainting probes in experiments/ share (--model, --n, --seed, --threads);
    each probe adds its own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--model", default="pretrained")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    return ap


def probe_inputs(args: argparse.Namespace):
    """What every inpainting probe starts from: the training digits (N, 28, 28), :func:`test_halves`
    of ``args.n`` test digits, the meter, and the opened model in float32."""
    torch.set_num_threads(args.threads)
    train = load_mnist("train").images[:, 0]
    clean, labels, tops = test_halves(args.n, args.seed)
    run = open_model(args.model)
    run.model = run.model.float()
    return train, clean, labels, tops, load_meter(), run


def nearest_candidates(tops: torch.Tensor, train: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k, 28, 28): each image's top half over the bottom halves of the k training digits with
    the nearest top halves (L2), nearest first; of equally near ones the first in the training set."""
    q = tops[:, :HALF].reshape(len(tops), -1)
    t = train[:, :HALF].reshape(len(train), -1)
    out = tops[:, None].repeat(1, k, 1, 1)
    for i in range(0, len(q), 100):
        idx = torch.sort(torch.cdist(q[i:i + 100], t), dim=1, stable=True).indices[:, :k]
        out[i:i + 100, :, HALF:] = train[idx][:, :, HALF:]
    return out


def nearest_neighbour_completion(tops: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """Each image's bottom half from the training digit with the nearest top half."""
    return nearest_candidates(tops, train, 1)[:, 0]


def blur3(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16.0).view(1, 1, 3, 3)
    return F.conv2d(F.pad(x[:, None], (1, 1, 1, 1), mode="replicate"), k)[:, 0].clamp(0, 1)


def true_digit(meter, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image, whether the meter's classifier calls it ``labels``' digit."""
    probs, _ = meter.predict(images[:, None].float())
    return probs.argmax(1) == labels


def share_true(meter, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float(true_digit(meter, images, labels).float().mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pretrained")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--sigma", type=float, default=0.3)
    ap.add_argument("--steps", type=int, default=None, help="chain steps (default: the model's own ladder)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chains", type=int, default=8, help="denoise: chains averaged per image (denoise --chains)")
    ap.add_argument("--inpaint-chains", type=int, default=4, help="inpaint: chains per image (inpaint --chains)")
    ap.add_argument("--only", choices=["inpaint", "denoise"], help="run one of the two")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    train = load_mnist("train")
    clean, labels, tops = test_halves(args.n, args.seed)
    meter = load_meter()
    run = open_model(args.model)
    run.model = run.model.float()

    figures = {"model": args.model, "n": args.n, "threads": args.threads,
               "chain_steps": args.steps or run.config.sampler.chain_steps()}
    if args.only != "denoise":
        mask = np.zeros((28, 28), bool)
        mask[:HALF] = True
        t0 = time.monotonic()
        k = max(1, args.inpaint_chains)
        every = complete(run.model, run.config, tops.numpy(), mask, run.config.sampler.sigma_max, steps=args.steps,
                         seed=args.seed, quiet=False, desc="inpaint", chains=k, pick="all")
        filled = torch.from_numpy(lowest_energy(run.model, run.config, every))
        figures["inpaint_seconds"] = round(time.monotonic() - t0, 1)
        figures["inpaint_chains"] = k
        nn = nearest_neighbour_completion(tops, train.images[:, 0])
        # the lowest-energy pick among the first k of the same chains, k = 1, 2, 4, ... K: what more chains buy
        ks = sorted({min(2 ** i, k) for i in range(k.bit_length() + 1)})
        figures["inpaint_lowest_of_k"] = {
            str(j): share_true(meter, torch.from_numpy(lowest_energy(run.model, run.config, every[:, :j])), labels)
            for j in ks}
        figures["inpaint_true_digit_share"] = {"model": share_true(meter, filled, labels),
                                               "model_one_chain": share_true(meter, torch.from_numpy(every[:, 0]),
                                                                             labels),
                                               "nearest_neighbour": share_true(meter, nn, labels),
                                               "top_half_only": share_true(meter, tops, labels),
                                               "original": share_true(meter, clean, labels)}
    if args.only != "inpaint":
        g = torch.Generator().manual_seed(args.seed + 1)
        noisy = clean + args.sigma * torch.randn(clean.shape, generator=g)

        def mse(x):
            return float(((x - clean) ** 2).mean())

        def denoised(chains):
            return torch.from_numpy(complete(run.model, run.config, noisy.numpy(), None, args.sigma, steps=args.steps,
                                             seed=args.seed, quiet=False, desc=f"denoise x{chains}",
                                             seed_is_noisy=True, chains=chains))

        t1 = time.monotonic()
        one_chain = denoised(1)
        figures["denoise_seconds_one_chain"] = round(time.monotonic() - t1, 1)
        figures["sigma"] = args.sigma
        outputs = {"model_one_chain": one_chain, f"model_mean_of_{args.chains}": denoised(args.chains),
                   "blur3x3": blur3(noisy), "noisy_input": noisy}
        if takes_sigma(run.model):  # the least-squares estimate itself (denoise --mmse)
            outputs["model_mmse_tweedie"] = torch.from_numpy(mmse_denoise(run.model, run.config, noisy.numpy(),
                                                                          args.sigma))
        figures["denoise_mse"] = {k: mse(v) for k, v in outputs.items()}
        figures["denoise_true_digit_share"] = {k: share_true(meter, v.clamp(0, 1), labels) for k, v in outputs.items()}
        figures["denoise_true_digit_share"]["clean"] = share_true(meter, clean, labels)
    print(json.dumps(figures, indent=2))
    print(f"\n{args.n} MNIST-test digits, {args.model}, {figures['chain_steps']} chain steps", file=sys.stderr)
    print(f"{'':36s}{'model':>10s}{'baseline':>10s}", file=sys.stderr)
    if "inpaint_true_digit_share" in figures:
        a = figures["inpaint_true_digit_share"]
        print(f"{'inpaint (top half): true digit':36s}{a['model']:10.3f}{a['nearest_neighbour']:10.3f}"
              f"   (lowest energy of {figures['inpaint_chains']} chains; nearest neighbour; one chain "
              f"{a['model_one_chain']:.3f}, top half alone {a['top_half_only']:.3f}, originals {a['original']:.3f})",
              file=sys.stderr)
        print("  lowest energy of the first k chains: "
              + ", ".join(f"k={j} {v:.3f}" for j, v in figures["inpaint_lowest_of_k"].items()), file=sys.stderr)
    if "denoise_mse" in figures:
        d = figures["denoise_mse"]
        kept = figures["denoise_true_digit_share"]
        for key, what in (("model_one_chain", "1 chain"), (f"model_mean_of_{args.chains}", f"mean of {args.chains}"),
                          ("model_mmse_tweedie", "MMSE (Tweedie)")):
            if key in d:
                print(f"{'denoise sigma ' + format(args.sigma, 'g') + ', ' + what + ': MSE':36s}{d[key]:10.4f}"
                      f"{d['blur3x3']:10.4f}   (3x3 Gaussian blur; noisy input {d['noisy_input']:.4f}); identity kept "
                      f"{kept[key]:.3f} (blur {kept['blur3x3']:.3f}, clean {kept['clean']:.3f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
