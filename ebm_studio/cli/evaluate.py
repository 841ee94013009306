"""``ebm-studio evaluate``: the quality meter's figures for a model's samples or a SAMPLES.npy file;
for a Boltzmann machine also its test log-likelihood by AIS and its reconstruction errors, and with
``--digit`` the few-shot transfer figures."""

from __future__ import annotations

import argparse
import json

from ..core.limits import MAX_AIS_BETAS, MAX_SAMPLES
from .options import add_quiet, at_most
from .progress import Progress
from .sampling import SamplerOptions, add_sampler_args, draw_samples, open_for_sampling, sampler_config


def register(sub) -> None:
    e = sub.add_parser("evaluate", help="quality meter: classifier-FID, confidence, coverage, memorisation",
                       description="Score samples drawn from uniform noise by a model, or a SAMPLES.npy file.")
    e.add_argument("target", help="run directory, checkpoint, 'pretrained', or SAMPLES.npy")
    e.add_argument("--n", type=at_most(MAX_SAMPLES), default=1000, help="samples to draw (model targets)")
    add_sampler_args(e)
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--digit", type=int, choices=range(10), metavar="D",
                   help="few-shot transfer: also report how many samples are digit D, the distance to the run's "
                        "own training examples (memorisation) and the diversity of samples and examples")
    e.add_argument("--ais-betas", type=at_most(MAX_AIS_BETAS), default=10000,
                   help="RBM families: intermediate temperatures of annealed importance sampling")
    add_quiet(e)
    e.set_defaults(handler=_run)


def _run(a: argparse.Namespace) -> int:
    return evaluate(a.target, a.n, SamplerOptions.from_args(a), as_json=a.json, digit=a.digit, ais_betas=a.ais_betas,
                    quiet=a.quiet)


def evaluate(target: str, n: int, opts: SamplerOptions, as_json: bool, digit: int | None, ais_betas: int,
             quiet: bool = False) -> int:

    from ..core.errors import DataError

    try:
        from ..core.quality import load_meter
    except ImportError:
        raise DataError("the quality meter is not installed in this build") from None
    if target.lower().endswith(".npy"):
        from ..core.array_files import load_samples_npy

        samples = load_samples_npy(target)  # header checked before anything is allocated
        source, extra, run = target, {}, None
    else:
        run, device = open_for_sampling(target, opts)
        cfg = sampler_config(run, opts)
        samples = draw_samples(run, cfg, n, opts.init, device, opts.seed, quiet=quiet)
        source = f"{n} samples of {target} from uniform noise"
        extra = likelihood_figures(run, ais_betas, opts.seed, quiet=quiet)
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
            if key != "likelihood_sides":
                print(f"{key:16s} {value}")
        for line in likelihood_summary(extra):
            print(line)
    return 0


def likelihood_summary(figures: dict) -> list[str]:
    """The test log-likelihood by each estimate, with the standard error of its log Z and the side
    it errs on (the true value lies between forward and reverse AIS in expectation)."""
    sides = figures.get("likelihood_sides")
    if not sides:
        return []
    dbm = "test_log_likelihood_lower_bound_nats" in figures
    key = "test_log_likelihood_lower_bound" if dbm else "test_log_likelihood"
    rows = [("forward AIS", f"{key}_nats", "ais_log_z_stderr", "forward"),
            ("reverse AIS", f"{key}_reverse_ais_nats", "reverse_ais_log_z_stderr", "reverse"),
            ("exact log Z", f"{key}_exact_nats", None, "exact")]
    bound = " (a variational lower bound: mean-field free energy)" if "lower_bound" in key else ""
    lines = [f"test log-likelihood, nats{bound}:"]
    for label, ll, err, side in rows:
        if ll in figures:
            spread = f" ± {figures[err]:.2f}" if err else ""
            lines.append(f"  {label:12s} {figures[ll]:9.2f}{spread:8s}  {sides[side]}")
    return lines


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


def likelihood_sets(mode: str):
    """MNIST-train as the AIS base model's rates (the expected binary image) and MNIST-test binarised
    the way the model was trained (``mode`` "stochastic": one fixed draw, as in the literature), both
    (N, 784): the data every likelihood figure of ``evaluate`` is on."""
    import torch

    from ..core.data import load_mnist

    train = load_mnist("train").images.reshape(-1, 784)
    test = load_mnist("test").images.reshape(-1, 784)
    if mode == "stochastic":
        return train, torch.bernoulli(test, generator=torch.Generator().manual_seed(0))
    return (train > 0.5).float(), (test > 0.5).float()


def likelihood_figures(run, ais_betas: int, seed: int, quiet: bool = False) -> dict:
    """Boltzmann machines: test log-likelihood by forward and reverse annealed importance sampling
    (optimistic and conservative; a lower bound for a DBM; exact where one side of the model has at
    most 20 units) with the standard errors of their log Z, and reconstruction / denoising error
    rates, on MNIST-test binarised the way the model was trained (stochastically: one fixed draw,
    as in the literature)."""
    from ..core.families import family

    if not family(run.config.model.family).ais:
        return {}
    from ..core.boltzmann.ais import SIDES, log_likelihood_figures
    from ..core.boltzmann.analysis import reconstruction_figures

    model = run.model.cpu().float()
    mode = run.config.train.binarize
    train, test = likelihood_sets(mode)
    figures = {"test_binarization": mode}
    with Progress("AIS forward + reverse (5 runs x 100 chains)", total=2 * 5 * (ais_betas - 1), unit="temperature",
                  quiet=quiet) as bar:
        figures.update(log_likelihood_figures(model, train, test, n_chains=100, n_betas=ais_betas, runs=5, seed=seed,
                                              progress=lambda done, total: bar.update(done, total=total)))
    figures["likelihood_sides"] = {k: v for k, v in SIDES.items() if k != "exact" or "exact_log_z" in figures}
    figures.update(reconstruction_figures(model, test, flip=0.15, seed=seed))
    return figures
