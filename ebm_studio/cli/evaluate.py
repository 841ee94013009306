"""``ebm-studio evaluate``: the quality meter's figures for a model's samples or a SAMPLES.npy file;
for a Boltzmann machine also its test log-likelihood by AIS and its reconstruction errors, and with
``--digit`` the few-shot transfer figures."""

from __future__ import annotations

import argparse
import json
import sys

from .options import positive_int
from .sampling import (
    SamplerOptions,
    add_sampler_args,
    draw_samples,
    open_for_sampling,
    sampler_config,
)


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="quality meter: classifier-FID, confidence, coverage, memorisation",
                       description="Score samples drawn from uniform noise by a model, or a SAMPLES.npy file.")
    e.add_argument("target", help="run directory, checkpoint, 'pretrained', or SAMPLES.npy")
    e.add_argument("--n", type=positive_int, default=1000, help="samples to draw (model targets)")
    add_sampler_args(e)
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--digit", type=int, choices=range(10), metavar="D",
                   help="few-shot transfer: also report how many samples are digit D, the distance to the run's "
                        "own training examples (memorisation) and the diversity of samples and examples")
    e.add_argument("--ais-betas", type=positive_int, default=10000,
                   help="RBM families: intermediate temperatures of annealed importance sampling")
    e.set_defaults(run=_run)


def _run(a: argparse.Namespace) -> int:
    return evaluate(a.target, a.n, SamplerOptions.from_args(a), as_json=a.json, digit=a.digit, ais_betas=a.ais_betas)


def evaluate(target: str, n: int, opts: SamplerOptions, as_json: bool, digit: int | None, ais_betas: int) -> int:
    import numpy as np

    from ..core.errors import DataError

    try:
        from ..core.quality import load_meter
    except ImportError:
        raise DataError("the quality meter is not installed in this build") from None
    if target.lower().endswith(".npy"):
        try:
            samples = np.load(target, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{target}: cannot read samples ({exc})") from None
        source, extra, run = target, {}, None
    else:
        run, device = open_for_sampling(target, opts)
        cfg = sampler_config(run, opts)
        samples = draw_samples(run, cfg, n, opts.init, device, opts.seed)
        source = f"{n} samples of {target} from uniform noise"
        extra = likelihood_figures(run, ais_betas, opts.seed)
    meter = load_meter()
    report = meter.evaluate(samples)
    if digit is None:
        digit = opts.label  # guided samples: how many are the digit asked for
    if digit is not None:
        extra.update(transfer_figures(meter, samples, digit, run))
    if as_json:
        print(json.dumps({**report.as_dict(), **extra}, indent=2))
    else:
        print(f"# {source}")
        print(report)
        for key, value in extra.items():
            print(f"{key:16s} {value}")
    return 0


def transfer_figures(meter, samples, digit: int, run=None) -> dict:
    """Target-digit share and memorisation figures; the examples are the run's own training images
    (when ``run``, the evaluated model, was trained on at most 10,000 of them)."""
    from ..core.quality.metrics import as_sample_tensor
    from ..core.quality.transfer import transfer_figures as figures

    examples = None
    if run is not None:
        from ..core.data import load_dataset

        d = run.config.data
        if d.limit is not None and d.limit <= 10_000:
            examples = load_dataset(d.source, "train", d.digits, d.limit).images
    return figures(meter, as_sample_tensor(samples), digit, examples)


def likelihood_figures(run, ais_betas: int, seed: int) -> dict:
    """Boltzmann machines: test log-likelihood by annealed importance sampling (a lower bound for a
    DBM) with its standard error, and reconstruction / denoising error rates, on MNIST-test
    binarised the way the model was trained (stochastically: one fixed draw, as in the literature)."""
    from ..core.families import family

    if not family(run.config.model.family).ais:
        return {}
    import torch

    from ..core.boltzmann.ais import log_likelihood_figures
    from ..core.boltzmann.analysis import reconstruction_figures
    from ..core.data import load_mnist

    model = run.model.cpu().float()
    mode = run.config.train.binarize
    g = torch.Generator().manual_seed(0)

    def binary(split):
        x = load_mnist(split).images.reshape(-1, 784)
        return torch.bernoulli(x, generator=g) if mode == "stochastic" else (x > 0.5).float()

    train = load_mnist("train").images.reshape(-1, 784)  # base rates: the expected binary image
    train = train if mode == "stochastic" else (train > 0.5).float()
    test = binary("test")
    print(f"running AIS (5 independent runs of 100 chains, {ais_betas} temperatures)…", file=sys.stderr)
    figures = {"test_binarization": mode}
    figures.update(log_likelihood_figures(model, train, test, n_chains=100, n_betas=ais_betas, runs=5, seed=seed))
    figures.update(reconstruction_figures(model, test, flip=0.15, seed=seed))
    return figures
