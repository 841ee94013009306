"""``ebm-studio sample`` and ``ebm-studio chain``: final images of many chains, or the film of a few."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import positive_int
from .sampling import (
    SamplerOptions,
    add_sampler_args,
    draw_samples,
    initial_images,
    open_for_sampling,
    sampler_config,
)


def register(sub) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained model",
                       description="Draw N samples; FILE.npy holds float32 (N, 28, 28) in [0, 1]; FILE.png is a grid.")
    s.add_argument("model", help="run directory, checkpoint (.safetensors), or 'pretrained'")
    s.add_argument("--n", type=positive_int, default=64, help="number of samples")
    s.add_argument("--out", required=True, type=Path, help="output file: .npy or .png")
    add_sampler_args(s)
    s.add_argument("--init", default="noise", help="'noise' (uniform) or an image file to start every chain from")
    s.add_argument("--grid", help="grid shape ROWSxCOLS for .png output (default: square)")
    s.set_defaults(run=lambda a: sample(a.model, a.n, a.out, a.grid, SamplerOptions.from_args(a, init=a.init)))

    c = sub.add_parser("chain", help="export the evolution of chains as a film strip (.png) or animation (.gif)")
    c.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    c.add_argument("--out", required=True, type=Path, help=".gif or .png")
    c.add_argument("--n", type=positive_int, default=8, help="number of chains side by side")
    c.add_argument("--every", type=positive_int, default=10, help="keep every k-th step")
    c.add_argument("--init", default="noise", help="'noise' or an image file")
    add_sampler_args(c)
    c.set_defaults(run=_run_chain)


def _run_chain(a: argparse.Namespace) -> int:
    return chain(a.model, a.n, a.out, a.every, SamplerOptions.from_args(a, init=a.init))


def sample(model: str, n: int, out: Path, grid: str | None, opts: SamplerOptions) -> int:
    import numpy as np

    from ..core.atomic import atomic_write_with
    from ..core.errors import DataError
    from ..core.export import parse_grid, save_grid_png

    suffix = out.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise DataError(f"{out}: output must end in .npy or .png")
    shape = parse_grid(grid) if grid else None
    run, device = open_for_sampling(model, opts)
    cfg = sampler_config(run, opts)
    samples = draw_samples(run, cfg, n, opts.init, device, opts.seed)
    if suffix == ".npy":
        atomic_write_with(out, lambda tmp: np.save(open(tmp, "wb"), samples))
    else:
        rows, cols = shape if shape else (None, None)
        save_grid_png(out, samples, rows, cols, scale=2)
    print(f"wrote {n} samples to {out}", file=sys.stderr)
    return 0


def chain(model: str, n: int, out: Path, every: int, opts: SamplerOptions) -> int:
    import torch

    from ..core.errors import DataError
    from ..core.export import save_gif, save_strip_png
    from ..core.families import sample_chain

    suffix = out.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise DataError(f"{out}: output must end in .gif or .png")
    run, device = open_for_sampling(model, opts)
    cfg = sampler_config(run, opts)
    g = torch.Generator(device=device).manual_seed(opts.seed)
    frames = []
    last = None
    for last in sample_chain(run.model, cfg, initial_images(opts.init, n, device, g), generator=g):
        if last.step % every == 0:
            frames.append(last.x.detach().cpu().clone())
    if last is not None and last.step % every:
        frames.append(last.x.detach().cpu().clone())
    stack = torch.stack(frames)
    if suffix == ".gif":
        count = save_gif(out, stack)
    else:
        save_strip_png(out, stack)
        count = len(frames)
    print(f"wrote {count} frames of {n} chains to {out}", file=sys.stderr)
    return 0
