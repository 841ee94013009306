"""``ebm-studio``: the studio window with no sub-command, and its headless twin otherwise.

Sub-commands: ``train``, ``sample``, ``chain``, ``evaluate``, ``info``. Every user error (bad
argument, corrupt checkpoint, unreadable image, NaN hyper-parameter) is one line on stderr and
exit status 2; Ctrl-C or SIGTERM during training saves the run and exits cleanly.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path

from .core.errors import EbmStudioError
from .core.families import family, family_names


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def _finite_float(text: str, positive: bool = False) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if v < 0 or (positive and v == 0):
        raise argparse.ArgumentTypeError(f"expected a {'positive' if positive else 'non-negative'} number, got {v}")
    return v


def _positive_float(text: str) -> float:
    return _finite_float(text, positive=True)


def _fraction(text: str) -> float:
    v = _finite_float(text)
    if v > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebm-studio", description="EBM Studio: train and explore energy-based models of handwritten digits. "
                                "With no sub-command, opens the studio window.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model into a run directory (headless)",
                       description="Train a model; progress shows loss and gradient norm. Ctrl-C saves and exits.")
    t.add_argument("--out", required=True, type=Path, help="run directory to write (weights, config.toml, metrics.csv)")
    t.add_argument("--config", type=Path, help="TOML config to start from (defaults: the built-in recipe)")
    t.add_argument("--preset", help="named recipe: dsm (default: denoising score matching + annealed Langevin), "
                                    "cd-uva (contrastive divergence with a replay buffer), cd-seed (CD from data)")
    t.add_argument("--model", choices=list(family_names()), help="model family (vae and flow: the non-energy baselines)")
    t.add_argument("--hidden", help="hidden layer sizes for Boltzmann machines, e.g. 500 or 200,200 (vae/flow: width)")
    t.add_argument("--width", type=_positive_int, help="channel width of the convolutional energy net")
    t.add_argument("--prior-components", type=_positive_int, metavar="K",
                   help="DSM: the exact base energy the net adds to: a Gaussian mixture of K components fitted by "
                        "k-means (default 100), or 1 = a single Gaussian")
    t.add_argument("--digits", help="digit subset, e.g. 3,5 (default: all ten)")
    t.add_argument("--data", help="dataset: 'mnist' (bundled), a folder of IDX files or of images, or an IDX file")
    t.add_argument("--limit", "--max-examples", dest="limit", type=_positive_int,
                   help="use at most this many training images (the first ones of the chosen digits)")
    t.add_argument("--init-from", help="start from this model's weights (run directory, checkpoint or 'pretrained'): "
                                       "few-shot transfer / fine-tuning; its architecture and sampler are kept")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=_positive_float, help="wall-clock budget")
    budget.add_argument("--epochs", type=_positive_float, help="passes over the training set")
    budget.add_argument("--steps", type=_positive_int, help="optimisation steps")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], help="compute device (default: auto)")
    t.add_argument("--seed", type=_nonneg_int, help="random seed (runs are reproducible from it)")
    t.add_argument("--batch-size", type=_positive_int, help="training batch size")
    t.add_argument("--lr", type=_positive_float, help="learning rate")
    t.add_argument("--anneal", type=_fraction, metavar="FRACTION",
                   help="bring the learning rate down a straight line to 0 over this last fraction of the budget "
                        "(0 = constant; also with --resume)")
    t.add_argument("--contrast", type=_finite_float, metavar="WEIGHT",
                   help="DSM: add contrastive refinement on the sampler's own chains with this weight (0 = off; "
                        "0.01 at --lr 1e-4 on a trained energy removes most failed samples; also with --resume)")
    t.add_argument("--contrast-phase", type=_fraction, metavar="FRACTION",
                   help="with --contrast: add the term only over this last fraction of the budget, at a tenth of "
                        "the learning rate (0 = throughout; also with --resume)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    t.add_argument("--autosave-minutes", type=_finite_float, default=5.0, help="autosave period (0 = off)")
    t.add_argument("--quiet", action="store_true", help="no progress output")

    s = sub.add_parser("sample", help="draw samples from a trained model",
                       description="Draw N samples; FILE.npy holds float32 (N, 28, 28) in [0, 1]; FILE.png is a grid.")
    s.add_argument("model", help="run directory, checkpoint (.safetensors), or 'pretrained'")
    s.add_argument("--n", type=_positive_int, default=64, help="number of samples")
    s.add_argument("--out", required=True, type=Path, help="output file: .npy or .png")
    _add_sampler_args(s)
    s.add_argument("--init", default="noise", help="'noise' (uniform) or an image file to start every chain from")
    s.add_argument("--grid", help="grid shape ROWSxCOLS for .png output (default: square)")

    c = sub.add_parser("chain", help="export the evolution of chains as a film strip (.png) or animation (.gif)")
    c.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    c.add_argument("--out", required=True, type=Path, help=".gif or .png")
    c.add_argument("--n", type=_positive_int, default=8, help="number of chains side by side")
    c.add_argument("--every", type=_positive_int, default=10, help="keep every k-th step")
    c.add_argument("--init", default="noise", help="'noise' or an image file")
    _add_sampler_args(c)

    gd = sub.add_parser("guide", help="train the class guide that lets 'sample --label D' ask for a digit",
                        description="Train a classifier of noised images p(y | x, sigma) on the run's data and save "
                                    "it beside the run as guide.safetensors (class-conditional sampling by guidance).")
    gd.add_argument("model", help="run directory (or 'pretrained' with --out)")
    gd.add_argument("--minutes", type=_positive_float, default=2.0, help="training budget")
    gd.add_argument("--width", type=_positive_int, default=16, help="channel width of the classifier")
    gd.add_argument("--out", type=Path, help="directory to write guide.safetensors to (default: the run directory)")
    gd.add_argument("--seed", type=_nonneg_int, default=0)
    gd.add_argument("--quiet", action="store_true")

    e = sub.add_parser("evaluate", help="quality meter: classifier-FID, confidence, coverage, memorisation",
                       description="Score samples drawn from uniform noise by a model, or a SAMPLES.npy file.")
    e.add_argument("target", help="run directory, checkpoint, 'pretrained', or SAMPLES.npy")
    e.add_argument("--n", type=_positive_int, default=1000, help="samples to draw (model targets)")
    e.set_defaults(init="noise")
    _add_sampler_args(e)
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.add_argument("--digit", type=int, choices=range(10), metavar="D",
                   help="few-shot transfer: also report how many samples are digit D, the distance to the run's "
                        "own training examples (memorisation) and the diversity of samples and examples")
    e.add_argument("--ais-betas", type=_positive_int, default=10000,
                   help="RBM families: intermediate temperatures of annealed importance sampling")

    cp = sub.add_parser("compare", help="energy models and baselines side by side: same data, budget and meter",
                        description="Score models by the quality meter in one table. Give trained models (run "
                                    "directories, checkpoints, 'pretrained', 'pretrained:rbm'), and/or --train-minutes "
                                    "to train each of --families from a cold start for the same wall-clock budget "
                                    "into --out first.")
    cp.add_argument("models", nargs="*", help="trained models to include")
    cp.add_argument("--train-minutes", type=_positive_float, help="train each of --families for this many minutes")
    cp.add_argument("--families", default="conv,rbm,vae,flow",
                    help=f"families to train with their own recipes (of {', '.join(family_names())})")
    cp.add_argument("--out", type=Path, help="directory for the trained runs and each model's sample grid")
    cp.add_argument("--n", type=_positive_int, default=1000, help="samples per model, from uniform noise")
    cp.add_argument("--seed", type=_nonneg_int, default=0, help="training and sampling seed")
    cp.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    cp.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    cp.add_argument("--quiet", action="store_true", help="no training progress")

    i = sub.add_parser("info", help="show a run's config and last metrics")
    i.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    return p


def _add_sampler_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=_nonneg_int, help="sampler steps (default: the model's own; for an annealed sampler, the total over all noise levels)")
    p.add_argument("--step-size", type=_finite_float, help="Langevin step size")
    p.add_argument("--noise", type=_finite_float, help="Langevin noise scale")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="random seed")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--label", type=int, choices=range(10), metavar="D",
                   help="ask for digit D: sample E(x) - w log p(D | x) with the run's class guide (see 'guide')")
    p.add_argument("--guidance", type=_finite_float, default=1.0, help="guide weight w (1 = Bayes; more = surer, less varied)")
    p.add_argument("--compile", nargs="?", const="on", choices=["auto", "on", "off"],
                   help="torch.compile the energy net (~30 s once, then ~1.6x faster sampling; conv models); "
                        "default: the run's setting, auto = only jobs of >= 200k image-steps")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                   help="arithmetic of the energy net while sampling (default: the run's; auto = bf16 where fast)")
    p.add_argument("--temperature", type=_positive_float,
                   help="vae/flow: standard deviation of the latent prior (default: the run's, 1 = the model itself)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from .app import run_app

        return run_app()
    try:
        handler = {"train": cmd_train, "sample": cmd_sample, "chain": cmd_chain, "evaluate": cmd_evaluate,
                   "guide": cmd_guide, "compare": _cmd_compare,
                   "info": cmd_info}[args.command]
        return handler(args) or 0
    except EbmStudioError as exc:
        print(f"ebm-studio {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ebm-studio {args.command}: interrupted", file=sys.stderr)
        return 130


def _cmd_compare(args) -> int:
    from .cli_compare import cmd_compare

    return cmd_compare(args)


# --- train ------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from .core.config import RunConfig, load_config
    from .core.data import normalise_digits
    from .core.device import configure_threads
    from .core.errors import ConfigError
    from .core.session import Budget, TrainingSession

    configure_threads()
    overrides = {}
    if args.resume:
        if args.config or args.preset or args.model or args.digits or args.data or args.limit or args.hidden \
                or args.width or args.prior_components or args.init_from:
            raise ConfigError("--resume continues the saved run: --config/--model/--digits/--data/--limit cannot change it")
        session = TrainingSession(RunConfig(), run_dir=args.out, resume=True, device=_device_arg(args.device),
                                  autosave_minutes=args.autosave_minutes)
        live = {k: v for k, v in (("train.lr", args.lr), ("train.lr_anneal", args.anneal),
                                  ("train.contrast", args.contrast), ("train.contrast_phase", args.contrast_phase))
                if v is not None}
        if live:
            session.trainer.update_settings(session.cfg.with_overrides(**live))  # saved from trainer.cfg
    else:
        cfg = load_config(args.config) if args.config else RunConfig()
        from .core.presets import family_preset, preset_config

        if args.preset:
            cfg = preset_config(args.preset, cfg)
        elif args.model and args.model != cfg.model.family and not args.config:
            cfg = preset_config(family_preset(args.model), cfg)
        if args.model:
            overrides["model.family"] = args.model
        if args.hidden:
            try:
                overrides["model.hidden"] = [int(h) for h in args.hidden.split(",")]
            except ValueError:
                raise ConfigError(f"--hidden must be integers separated by commas, got {args.hidden!r}") from None
        if args.width:
            overrides["model.width"] = args.width
        if args.prior_components:
            overrides["model.prior_components"] = args.prior_components
        if args.digits:
            overrides["data.digits"] = normalise_digits(args.digits)
        if args.data:
            overrides["data.source"] = args.data
        if args.limit:
            overrides["data.limit"] = args.limit
        if args.device:
            overrides["train.device"] = args.device
        if args.seed is not None:
            overrides["train.seed"] = args.seed
        if args.batch_size:
            overrides["train.batch_size"] = args.batch_size
        if args.lr:
            overrides["train.lr"] = args.lr
        if args.anneal is not None:
            overrides["train.lr_anneal"] = args.anneal
        if args.contrast is not None:
            overrides["train.contrast"] = args.contrast
        if args.contrast_phase is not None:
            overrides["train.contrast_phase"] = args.contrast_phase
        cfg = cfg.with_overrides(**overrides)
        if (args.out / "model.safetensors").exists():
            raise ConfigError(f"{args.out} already holds a run; use --resume to continue it or choose another --out")
        init_model = None
        if args.init_from:
            from .core.models_io import open_model
            from .core.session import transfer_config

            source = open_model(args.init_from)
            cfg = transfer_config(source.config, cfg)
            init_model = source.model
        session = TrainingSession(cfg, run_dir=args.out, device=None, autosave_minutes=args.autosave_minutes,
                                  init_model=init_model)
    if not (args.minutes or args.epochs or args.steps):
        args.epochs = 1.0
    budget = Budget(steps=args.steps, epochs=args.epochs, minutes=args.minutes)

    stop = {"flag": False}

    def on_signal(signum, frame):
        """First Ctrl-C / SIGTERM: stop after the current step. A second one: stop now (the weights
        only change at the very end of a step, so what is saved is still a sound model)."""
        if stop["flag"]:
            raise KeyboardInterrupt
        stop["flag"] = True

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    from .core.device import describe_device

    tr = session.trainer
    if not args.quiet:
        print(f"training {session.cfg.model.family} on {len(session.data)} images, device {describe_device(tr.device)}, "
              f"from step {tr.step} -> {args.out}", file=sys.stderr)
    t0 = time.monotonic()
    last_print = 0.0
    record = None
    try:
        for record in session.run(budget, should_stop=lambda: stop["flag"]):
            if record.event:
                print(f"\n[step {record.step}] {record.event}", file=sys.stderr)
            now = time.monotonic()
            if not args.quiet and (now - last_print > 0.5):
                last_print = now
                _progress(record, now - t0, budget)
    except KeyboardInterrupt:  # a second signal interrupted a step: keep the last completed one
        pass
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        session.save()
    if not args.quiet:
        if record is not None:
            _progress(record, time.monotonic() - t0, budget)
        state = "stopped" if stop["flag"] else "paused after a divergence" if session.paused_by_divergence else "done"
        print(f"\n{state}: saved {args.out} at step {tr.step}", file=sys.stderr)
    return 0


def _progress(r, elapsed: float, budget) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"step {r.step:6d}  epoch {r.epoch:6.2f}  loss {r.loss:+.4f}  |grad| {r.grad_norm:.3g}  "
          f"E(data) {r.e_data:+.3f}  E(samples) {r.e_samples:+.3f}  {elapsed:6.0f}s", end=end, file=sys.stderr, flush=True)


def _device_arg(name):
    from .core.device import resolve_device

    return resolve_device(name or "auto")


# --- sample / chain ---------------------------------------------------------------------------
def _open(args):
    from .core.device import configure_threads, resolve_device
    from .core.errors import ConfigError
    from .core.models_io import open_model

    configure_threads()
    device = resolve_device(args.device)
    run = open_model(args.model if hasattr(args, "model") else args.target, device=device)
    name = run.config.model.family
    if not family(name).has_chain and getattr(args, "init", "noise") != "noise":
        raise ConfigError(f"--init: a {name} draws each sample from its latent prior in one pass; there is no "
                          "chain to start from an image")
    if getattr(args, "temperature", None) is not None and family(name).has_chain:
        raise ConfigError("--temperature applies to the vae and flow baselines (energy models: --noise, --steps)")
    if getattr(args, "label", None) is not None:
        from .core.conv.guidance import GuidedEnergy, load_guide

        if not family(name).guidable:
            raise ConfigError(f"--label steers the convolutional EBM's Langevin sampler; a {name} has no class guide")
        if not args.guidance >= 0:
            raise ConfigError(f"--guidance must be >= 0, got {args.guidance}")
        guide, _ = load_guide(run.path)
        run.model = GuidedEnergy(run.model, guide.to(device), args.label, args.guidance)
    return run, device


def _sampler_cfg(run, args):
    """The model's sampler with the command line's overrides.

    For an annealed sampler ``--steps`` is the total number of steps of the ladder; giving
    ``--step-size`` or ``--noise`` switches to constant-step Langevin with those values.
    """
    over = {}
    s = run.config.sampler
    laddered = s.schedule in ("annealed", "ancestral")
    annealed = laddered and args.step_size is None and args.noise is None
    if laddered and not annealed:
        over["sampler.schedule"] = "constant"
    if args.steps is not None:
        if annealed and s.schedule == "ancestral":  # levels of (1 predictor + correctors), +1 noise injection
            over["sampler.levels"] = max(1, -(-(args.steps - 1) // s.steps_per_level))
        elif annealed:
            over["sampler.steps_per_level"] = max(1, args.steps // s.levels)
        else:
            over["sampler.steps"] = args.steps
    if args.step_size is not None:
        over["sampler.step_size"] = args.step_size
    if args.noise is not None:
        over["sampler.noise"] = args.noise
    if getattr(args, "temperature", None) is not None:
        over["sampler.temperature"] = args.temperature
    if getattr(args, "precision", None) is not None:
        over["sampler.precision"] = args.precision
    if getattr(args, "compile", None):
        over["sampler.compile"] = args.compile
    if getattr(args, "init", "noise") != "noise" and s.schedule == "ancestral":
        over["sampler.start"] = "noised"  # the chain starts from the user's image itself
    return run.config.with_overrides(**over) if over else run.config


def _initial(args, n, device, generator):
    import torch

    from .core.images import load_digit_image

    if args.init == "noise":
        return torch.rand((n, 1, 28, 28), generator=generator, device=device)
    img = torch.from_numpy(load_digit_image(args.init)).to(device)
    return img.expand(n, 1, 28, 28).clone()


def draw_samples(run, cfg, n: int, init_fn, device, seed: int, batch: int = 500):
    """Final states of ``n`` chains of the model's own sampler, in batches; (n, 28, 28) numpy."""
    import numpy as np

    from .core.families import draw_from_noise

    x = draw_from_noise(run.model, cfg, n, seed=seed, device=device, batch=batch, init=init_fn)
    return x.numpy()[:, 0].astype(np.float32)


def cmd_sample(args) -> int:
    import numpy as np

    from .core.atomic import atomic_write_with
    from .core.errors import DataError
    from .core.export import parse_grid, save_grid_png

    suffix = args.out.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise DataError(f"{args.out}: output must end in .npy or .png")
    grid = parse_grid(args.grid) if args.grid else None
    run, device = _open(args)
    cfg = _sampler_cfg(run, args)
    samples = draw_samples(run, cfg, args.n, lambda m, d, g: _initial(args, m, d, g), device, args.seed)
    if suffix == ".npy":
        atomic_write_with(args.out, lambda tmp: np.save(open(tmp, "wb"), samples))
    else:
        rows, cols = grid if grid else (None, None)
        save_grid_png(args.out, samples, rows, cols, scale=2)
    print(f"wrote {args.n} samples to {args.out}", file=sys.stderr)
    return 0


def cmd_chain(args) -> int:
    import torch

    from .core.errors import DataError
    from .core.export import save_gif, save_strip_png
    from .core.families import sample_chain

    suffix = args.out.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise DataError(f"{args.out}: output must end in .gif or .png")
    run, device = _open(args)
    cfg = _sampler_cfg(run, args)
    g = torch.Generator(device=device).manual_seed(args.seed)
    frames = []
    last = None
    for last in sample_chain(run.model, cfg, _initial(args, args.n, device, g), generator=g):
        if last.step % args.every == 0:
            frames.append(last.x.detach().cpu().clone())
    if last is not None and last.step % args.every:
        frames.append(last.x.detach().cpu().clone())
    stack = torch.stack(frames)
    if suffix == ".gif":
        count = save_gif(args.out, stack)
    else:
        save_strip_png(args.out, stack)
        count = len(frames)
    print(f"wrote {count} frames of {args.n} chains to {args.out}", file=sys.stderr)
    return 0


# --- evaluate / info --------------------------------------------------------------------------
def cmd_guide(args) -> int:
    import torch

    from .core.conv.guidance import guide_accuracy, save_guide, train_guide
    from .core.data import load_dataset, load_mnist
    from .core.device import configure_threads
    from .core.errors import ConfigError, DataError
    from .core.models_io import open_model

    configure_threads()
    run = open_model(args.model)
    if not family(run.config.model.family).guidable:
        raise ConfigError("class guides steer the convolutional EBM; this run is a " + run.config.model.family)
    out = args.out or run.path
    if str(args.model).startswith("pretrained") and args.out is None:
        raise ConfigError("give --out: the shipped models' folder is not written to")
    d = run.config.data
    data = load_dataset(d.source, "train", d.digits, d.limit)
    if data.labels is None or bool((data.labels < 0).any()):
        raise DataError(f"{d.source}: the class guide needs labelled images (MNIST or IDX with labels)")
    s = run.config.sampler
    t0, last = time.monotonic(), None
    for guide, last in train_guide(data.images, data.labels, s.sigma_min, s.sigma_max, width=args.width,
                                   seed=args.seed):
        if not args.quiet and last.step % 50 == 0:
            print(f"\rstep {last.step}  loss {last.loss:.3f}  batch accuracy {last.accuracy:.3f}", end="",
                  file=sys.stderr)
        if time.monotonic() - t0 >= args.minutes * 60:
            break
    test = load_mnist("test")
    keep = torch.ones(len(test.labels), dtype=torch.bool) if d.digits is None else torch.isin(
        test.labels, torch.tensor(d.digits))
    acc = guide_accuracy(guide.eval(), test.images[keep][:2000], test.labels[keep][:2000])
    path = save_guide(out, guide, {"steps": last.step, "seconds": round(last.seconds), "test_accuracy_by_sigma": acc})
    print(f"\nsaved {path}; MNIST-test accuracy by noise level: {acc}", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    import numpy as np

    from .core.errors import DataError

    try:
        from .core.quality import load_meter
    except ImportError:
        raise DataError("the quality meter is not installed in this build") from None
    if args.target.lower().endswith(".npy"):
        try:
            samples = np.load(args.target, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{args.target}: cannot read samples ({exc})") from None
        source = args.target
        extra = {}
        run = None
    else:
        args.model = args.target
        run, device = _open(args)
        cfg = _sampler_cfg(run, args)
        samples = draw_samples(run, cfg, args.n, lambda m, d, g: _initial(args, m, d, g), device, args.seed)
        source = f"{args.n} samples of {args.target} from uniform noise"
        extra = _likelihood_figures(run, args)
    meter = load_meter()
    report = meter.evaluate(samples)
    if args.digit is None and getattr(args, "label", None) is not None:
        args.digit = args.label  # guided samples: how many are the digit asked for
    if args.digit is not None:
        extra.update(_transfer_figures(meter, samples, args, run))
    if args.json:
        print(json.dumps({**report.as_dict(), **extra}, indent=2))
    else:
        print(f"# {source}")
        print(report)
        for key, value in extra.items():
            print(f"{key:16s} {value}")
    return 0


def _transfer_figures(meter, samples, args, run=None) -> dict:
    """Target-digit share and memorisation figures; the examples are the run's own training images
    (when ``run``, the evaluated model, was trained on at most 10,000 of them)."""
    from .core.quality.metrics import as_sample_tensor
    from .core.quality.transfer import transfer_figures

    examples = None
    if run is not None:
        from .core.data import load_dataset

        d = run.config.data
        if d.limit is not None and d.limit <= 10_000:
            examples = load_dataset(d.source, "train", d.digits, d.limit).images
    return transfer_figures(meter, as_sample_tensor(samples), args.digit, examples)


def _likelihood_figures(run, args) -> dict:
    """Boltzmann machines: test log-likelihood by annealed importance sampling (a lower bound for a
    DBM) with its standard error, and reconstruction / denoising error rates, on MNIST-test
    binarised the way the model was trained (stochastically: one fixed draw, as in the literature)."""
    if not family(run.config.model.family).ais:
        return {}
    import torch

    from .core.boltzmann.ais import log_likelihood_figures
    from .core.boltzmann.analysis import reconstruction_figures
    from .core.data import load_mnist

    model = run.model.cpu().float()
    mode = run.config.train.binarize
    g = torch.Generator().manual_seed(0)

    def binary(split):
        x = load_mnist(split).images.reshape(-1, 784)
        return torch.bernoulli(x, generator=g) if mode == "stochastic" else (x > 0.5).float()

    train = load_mnist("train").images.reshape(-1, 784)  # base rates: the expected binary image
    train = train if mode == "stochastic" else (train > 0.5).float()
    test = binary("test")
    print(f"running AIS (5 independent runs of 100 chains, {args.ais_betas} temperatures)…", file=sys.stderr)
    figures = {"test_binarization": mode}
    figures.update(log_likelihood_figures(model, train, test, n_chains=100, n_betas=args.ais_betas, runs=5,
                                          seed=args.seed))
    figures.update(reconstruction_figures(model, test, flip=0.15, seed=args.seed))
    return figures


def cmd_info(args) -> int:
    from .core.checkpoint import METRICS_FILE
    from .core.config import config_to_toml
    from .core.conv.energy import count_parameters

    args.device = "cpu"
    run, _ = _open(args)
    print(f"# {run.path}")
    print(config_to_toml(run.config))
    print(f"parameters: {count_parameters(run.model)}")
    metrics = run.path / METRICS_FILE
    if metrics.exists():
        lines = metrics.read_text().strip().splitlines()
        print(f"metrics: {len(lines) - 1} steps; last: {lines[-1] if len(lines) > 1 else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
