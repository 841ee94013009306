"""What the Samples panel runs in worker threads, and how it words what it shows.

Jobs (fresh samples, Boltzmann reconstructions) take plain values and return numpy arrays, so
they can run off the GUI thread; the captions and titles name the sampler that drew the images
(exported PNG titles in ASCII). Kept apart from the panel's widgets in ``samples_panel.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core.families import family
from .training_boxes import METHOD_NAMES

TILE, PAD = 28, 2


def with_method(cfg, method: str | None):
    """``cfg`` drawing with ``method`` where the model walks a noise ladder (others: unchanged)."""
    if cfg is None or method is None or cfg.sampler.schedule != "ancestral" or cfg.sampler.method == method:
        return cfg
    return cfg.with_overrides(**{"sampler.method": method})


def generate_samples(model, cfg, n: int, steps: int, seed: int, job=None) -> np.ndarray:
    """Fresh samples from uniform noise with the model's own sampler (a worker-thread job): the
    quality meter's own batch draw when ``steps`` is the model's chain length, else a chain of
    ``steps``. Progress goes to ``job``; Cancel stops it within one sampler step."""
    from ..controller.jobs import Job
    from ..core.families import draw_from_noise_steps, sample_chain

    job = job or Job("generate")
    if steps == cfg.sampler.total_steps():
        x = job.drive(draw_from_noise_steps(model, cfg, n, seed=seed, batch=max(1, n)))
        return x[:, 0].detach().float().cpu().numpy().copy()
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand((n, 1, 28, 28), generator=g)
    last = None
    chain = sample_chain(model, cfg, x0, steps=steps, generator=g)
    try:
        for last in chain:
            job.advance(last.step, max(1, steps))
            job.check()
    finally:
        chain.close()
    return last.x[:, 0].detach().float().cpu().numpy().copy()


def read_grid_png(path: str | Path, tile: int = TILE, pad: int = PAD) -> np.ndarray:
    """The (N, 28, 28) images of a sample grid written by ``save_grid_png`` (square cells, any
    whole pixel scale, no title): how the shipped model's samples.png becomes samples again."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    h, w = arr.shape
    for scale in range(1, 9):
        cols, rest = divmod(w // scale - pad, tile + pad) if w % scale == 0 else (0, 1)
        rows, rest_h = divmod(h // scale - pad, tile + pad) if h % scale == 0 else (0, 1)
        if cols and rows and rest == 0 and rest_h == 0:
            break
    else:
        return np.zeros((0, tile, tile), np.float32)
    small = arr[::scale, ::scale]
    out = [small[pad + r * (tile + pad): pad + r * (tile + pad) + tile,
                 pad + c * (tile + pad): pad + c * (tile + pad) + tile]
           for r in range(rows) for c in range(cols)]
    return np.stack(out).astype(np.float32)


def reconstruction_grid(model, seed: int, n: int = 8, job=None):
    """(4n, 28, 28) rows of originals, reconstructions, flipped and denoised test digits, and the
    per-pixel error rates on these digits (a worker-thread job; the model is a CPU copy)."""
    from ..core.boltzmann.analysis import flip_pixels, reconstruct, reconstruction_figures
    from ..core.data import load_mnist

    g = torch.Generator().manual_seed(seed)
    test = load_mnist("test").images
    idx = torch.randperm(len(test), generator=g)[:n]
    v = (test[idx] > 0.5).float()
    noisy = flip_pixels(v, 0.15, g)
    rows = [v, reconstruct(model, v), noisy, reconstruct(model, noisy)]
    images = torch.cat([r.reshape(n, 28, 28) for r in rows]).numpy().astype(np.float32)
    if job is not None:
        job.check()
    figures = reconstruction_figures(model, v.reshape(n, -1), flip=0.15, seed=seed)
    return images, figures


def live_caption(cfg) -> str:
    """What the live view shows during training, in the words of the objective being trained."""
    if cfg is None:
        return "Live view of the training run"
    t, s = cfg.train, cfg.sampler
    start = {"buffer": "replay-buffer chains", "data": "chains started at the data batch",
             "noise": "chains started from noise"}[t.negatives]
    traits = family(cfg.model.family)
    if not traits.energy_model:
        return f"Live: samples from the latent prior (temperature {s.temperature:g})"
    if traits.gibbs:
        return f"Live: fantasy particles, {start} after {s.steps} Gibbs sweep(s) (visible means)"
    if t.objective == "dsm":
        return ("Live: NOT samples of the model. Noised training digits, denoised in one step (Tweedie): "
                "how well it denoises. Generate draws real samples")
    if t.objective == "recovery":
        return (f"Live: negatives, noised training digits recovered from a noisier copy by {s.recovery_steps} "
                "Langevin steps, denoised in one step (Tweedie). Generate draws real samples")
    return f"Live: negative samples, {start} after {s.steps} Langevin steps"


def sampler_summary(cfg, steps: int | None = None) -> str:
    """The sampler in ASCII words (exported PNG titles use PIL's fonts, which may lack Greek and arrows)."""
    s = cfg.sampler
    traits = family(cfg.model.family)
    steps = cfg.sampler.total_steps() if steps is None else steps
    if not traits.energy_model and s.schedule == "ancestral":  # flow matching: "a solver from noise"
        return f"{METHOD_NAMES[s.method]} from noise, {steps} steps ({s.evaluations(steps)} evals)"
    if not traits.energy_model:
        return f"one pass from the latent prior, temperature {s.temperature:g}"
    if traits.gibbs:
        return f"Gibbs sampling, {steps} sweeps"
    if s.uses_solver():
        return f"{METHOD_NAMES[s.method]} sigma {s.sigma_max:g} to 0, {steps} steps ({s.evaluations(steps)} evals)"
    if s.schedule == "ancestral":
        return f"ancestral sampling sigma {s.sigma_max:g} to {s.sigma_min:g}, {steps} steps"
    if s.schedule == "annealed":
        return f"annealed Langevin sigma {s.sigma_max:g} to {s.sigma_min:g}, {steps} steps, eps {s.eps:g}"
    return f"Langevin, {steps} steps of size {s.step_size:g}, noise {s.noise:g}"
