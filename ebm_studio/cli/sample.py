"""``ebm-studio sample`` and ``ebm-studio chain``: final images of many chains, or the film of a few."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.limits import MAX_CHAIN_FRAMES, MAX_CHAINS, MAX_SAMPLES
from .options import add_quiet, at_most, positive_int
from .progress import Progress
from .sampling import SamplerOptions, add_sampler_args, draw_samples, initial_images, open_for_sampling, sampler_config


def register(sub) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained model",
                       description="Draw N samples; FILE.npy holds float32 (N, 28, 28) in [0, 1]; FILE.png is a grid.")
    s.add_argument("model", help="run directory, checkpoint (.safetensors), or 'pretrained'")
    s.add_argument("--n", type=at_most(MAX_SAMPLES), default=64, help="number of samples")
    s.add_argument("--out", required=True, type=Path, help="output file: .npy or .png; '-' writes the .npy to stdout")
    add_sampler_args(s)
    s.add_argument("--init", default="noise", help="'noise' (uniform) or an image file to start every chain from")
    s.add_argument("--grid", help="grid shape ROWSxCOLS for .png output (default: square)")
    add_quiet(s)
    s.set_defaults(handler=lambda a: sample(a.model, a.n, a.out, a.grid, SamplerOptions.from_args(a, init=a.init),
                                        quiet=a.quiet))

    c = sub.add_parser("chain", help="export the evolution of chains as a film strip (.png) or animation (.gif)")
    c.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    c.add_argument("--out", required=True, type=Path, help=".gif or .png")
    c.add_argument("--n", type=at_most(MAX_CHAINS), default=8, help="number of chains side by side")
    c.add_argument("--every", type=positive_int, default=10, help="keep every k-th step")
    c.add_argument("--init", default="noise", help="'noise' or an image file")
    add_sampler_args(c)
    add_quiet(c)
    c.set_defaults(handler=_run_chain)


def _run_chain(a: argparse.Namespace) -> int:
    return chain(a.model, a.n, a.out, a.every, SamplerOptions.from_args(a, init=a.init), quiet=a.quiet)


def sample(model: str, n: int, out: Path, grid: str | None, opts: SamplerOptions, quiet: bool = False) -> int:
    import numpy as np

    from ..core.atomic import atomic_write_with
    from ..core.errors import DataError
    from ..core.export import parse_grid, save_grid_png
    from ..core.limits import check_grid
    from ..core.output_paths import check_output_path

    to_stdout = str(out) == "-"
    suffix = ".npy" if to_stdout else out.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise DataError(f"{out}: output must end in .npy or .png")
    if not to_stdout:
        check_output_path(out, "file", (".npy", ".png"))
    shape = check_grid(*parse_grid(grid)) if grid else None
    run, device = open_for_sampling(model, opts)
    cfg = sampler_config(run, opts)
    samples = draw_samples(run, cfg, n, opts.init, device, opts.seed, quiet=quiet)
    if to_stdout:  # the .npy bytes alone: stdout is the data, everything else went to stderr
        np.save(sys.stdout.buffer, samples)
        sys.stdout.buffer.flush()
        out = "stdout"
    elif suffix == ".npy":
        atomic_write_with(out, lambda tmp: np.save(open(tmp, "wb"), samples))
    else:
        rows, cols = shape if shape else (None, None)
        save_grid_png(out, samples, rows, cols, scale=2)
    print(f"wrote {n} samples to {out}", file=sys.stderr)
    return 0


def chain(model: str, n: int, out: Path, every: int, opts: SamplerOptions, quiet: bool = False) -> int:
    import torch

    from ..core.errors import DataError
    from ..core.export import save_gif, save_strip_png
    from ..core.families import sample_chain

    suffix = out.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise DataError(f"{out}: output must end in .gif or .png")
    from ..core.output_paths import check_output_path

    check_output_path(out, "file", (".gif", ".png"))
    run, device = open_for_sampling(model, opts)
    cfg = sampler_config(run, opts)
    if cfg.sampler.total_steps() // every > MAX_CHAIN_FRAMES:
        raise DataError(f"a chain of {cfg.sampler.total_steps()} steps kept every {every} is more than "
                        f"{MAX_CHAIN_FRAMES} frames; raise --every")
    g = torch.Generator(device=device).manual_seed(opts.seed)
    frames = []
    last = None
    with Progress("chain", total=max(1, cfg.sampler.total_steps()), quiet=quiet) as bar:
        for last in sample_chain(run.model, cfg, initial_images(opts.init, n, device, g), generator=g):
            if last.step % every == 0:
                frames.append(last.x.detach().cpu().clone())
            bar.update(last.step, total=max(bar.total, last.step))
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
