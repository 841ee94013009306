"""``ebm-studio train``: train a model into a run directory, headless.

Flags map one-to-one onto config keys (``--lr`` is ``train.lr``), ``--set KEY=VALUE`` reaches every
other key. Ctrl-C or SIGTERM stops after the current step and saves the run; a second one stops
at once (the weights only change at the very end of a step, so what is saved is still sound), but
never in the middle of a save: signals during a save wait for it (core/stop_signals.py).

Under torchrun (``torchrun --nproc_per_node=N -m ebm_studio train ...``, or ``--ddp`` to insist on
it) every process joins one data-parallel run (core/distributed.py); rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from ..core.family_names import SHIPPED_FAMILIES
from .config_set import add_set
from .options import (
    DEVICE_CHOICES,
    add_quiet,
    finite_float,
    fraction,
    given,
    nonneg_int,
    positive_float,
    positive_int,
    seed_int,
)
from .progress import Progress

#: Keys a resumed run may change: the schedule of the rest of its training, not what it is.
LIVE_KEYS = ("train.lr", "train.lr_anneal", "train.contrast", "train.contrast_phase")


def register(sub) -> None:
    t = sub.add_parser("train", help="train a model into a run directory (headless)",
                       description="Train a model; progress shows loss and gradient norm. Ctrl-C saves and exits.")
    t.add_argument("--out", required=True, type=Path, help="run directory to write (weights, config.toml, metrics.csv)")
    t.add_argument("--config", type=Path, help="TOML config to start from (defaults: the built-in recipe)")
    t.add_argument("--preset", help="named recipe: dsm (default: denoising score matching + ancestral sampler), "
                                    "cd (contrastive divergence by recovery likelihood, sampled by its own chain), "
                                    "cd-uva (CD with a replay buffer), cd-seed (CD from data), rbm, rbm-centred, "
                                    "hopfield, sparse-rbm, dbm, and the baselines vae, flow, flowmatch")
    t.add_argument("--model", choices=list(SHIPPED_FAMILIES),
                   help="model family (vae, flow and flowmatch: the non-energy baselines)")
    t.add_argument("--hidden", help="hidden layer sizes for Boltzmann machines, e.g. 500 or 200,200 (vae/flow: width)")
    t.add_argument("--width", type=positive_int, help="channel width of the convolutional energy net")
    t.add_argument("--prior-components", type=positive_int, metavar="K",
                   help="DSM: the exact base energy the net adds to: a Gaussian mixture of K components fitted by "
                        "k-means (default 100), or 1 = a single Gaussian")
    t.add_argument("--digits", help="digit subset, e.g. 3,5 (default: all ten)")
    t.add_argument("--data", help="dataset: 'mnist' (bundled), a folder of IDX files or of images, or an IDX file")
    t.add_argument("--limit", "--max-examples", dest="limit", type=positive_int,
                   help="use at most this many training images (the first ones of the chosen digits)")
    t.add_argument("--init-from", help="start from this model's weights (run directory, checkpoint or 'pretrained'): "
                                       "few-shot transfer / fine-tuning; its architecture and sampler are kept. "
                                       "--model dbm from an RBM: the RBM becomes the DBM's first layer")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=positive_float, help="wall-clock budget")
    budget.add_argument("--epochs", type=positive_float, help="passes over the training set")
    budget.add_argument("--steps", type=positive_int, help="optimisation steps")
    t.add_argument("--device", choices=list(DEVICE_CHOICES), help="compute device (default: auto)")
    t.add_argument("--seed", type=seed_int, help="random seed (runs are reproducible from it)")
    t.add_argument("--batch-size", type=positive_int, help="training batch size")
    t.add_argument("--lr", type=positive_float, help="learning rate")
    t.add_argument("--anneal", type=fraction, metavar="FRACTION",
                   help="bring the learning rate down a straight line to 0 over this last fraction of the budget "
                        "(0 = constant; also with --resume)")
    t.add_argument("--contrast", type=finite_float, metavar="WEIGHT",
                   help="DSM: add contrastive refinement on the sampler's own chains with this weight (0 = off; "
                        "0.01 at --lr 1e-4 on a trained energy removes most failed samples; also with --resume)")
    t.add_argument("--contrast-phase", type=fraction, metavar="FRACTION",
                   help="with --contrast: add the term only over this last fraction of the budget, at a tenth of "
                        "the learning rate (0 = throughout; also with --resume)")
    add_set(t)
    t.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    t.add_argument("--fresh-optimizer", action="store_true",
                   help="with --resume: continue from the saved model with a new optimiser (e.g. when "
                        "trainer.safetensors is damaged)")
    t.add_argument("--autosave-minutes", type=finite_float, default=1.0,  # core.session.AUTOSAVE_MINUTES
                   help="autosave period in minutes of training: a kill loses at most this much (default 1; 0 = off)")
    t.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                   help="write TensorBoard event files to OUT/tensorboard (default: when tensorboardX is installed, "
                        "pip install 'ebm-studio[tensorboard]'); view with: tensorboard --logdir OUT")
    t.add_argument("--images-every", type=nonneg_int, default=1000, metavar="STEPS",
                   help="with TensorBoard: a grid of 16 samples every this many steps (0 = none)")
    t.add_argument("--ddp", action="store_true",
                   help="data-parallel training; needs torchrun, which turns it on by itself: "
                        "torchrun --nproc_per_node=N -m ebm_studio train ... (gloo on CPU, NCCL on GPU)")
    add_quiet(t)
    t.set_defaults(handler=_run)


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the dedicated flags set (``--set`` comes after and wins)."""
    from ..core.data import normalise_digits
    from ..core.errors import ConfigError

    over: dict[str, Any] = {}
    if args.hidden:
        try:
            over["model.hidden"] = [int(h) for h in args.hidden.split(",")]
        except ValueError:
            raise ConfigError(f"--hidden must be integers separated by commas, got {args.hidden!r}") from None
    if args.digits is not None:  # '' is an error, not "all ten"
        over["data.digits"] = normalise_digits(args.digits)
    over.update(given({  # --data '' means the default, as no --data does
        "model.family": args.model, "model.width": args.width, "model.prior_components": args.prior_components,
        "data.source": args.data or None, "data.limit": args.limit, "train.device": args.device,
        "train.seed": args.seed, "train.batch_size": args.batch_size, "train.lr": args.lr,
        "train.lr_anneal": args.anneal, "train.contrast": args.contrast, "train.contrast_phase": args.contrast_phase}))
    return over


def _run(args: argparse.Namespace) -> int:
    from ..core import distributed

    if not (args.ddp or distributed.launched_by_torchrun()):
        return _train_command(args)
    distributed.start(args.device or "auto")
    finished = False
    try:
        if not distributed.is_writer():
            args.quiet = True  # one progress bar: rank 0's
        code = _train_command(args)
        finished = True
    finally:
        distributed.stop(finished)
    distributed.leave(code)  # the run is written: end without the interpreter's teardown


def _train_command(args: argparse.Namespace) -> int:
    from ..core.errors import ConfigError
    from ..core.output_paths import check_output_path
    from ..core.session import Budget

    check_output_path(args.out, "dir")  # before any work: a file or an unwritable place cannot hold the run
    if args.fresh_optimizer and not args.resume:
        raise ConfigError("--fresh-optimizer goes with --resume (a new run always starts with a new optimiser)")
    flags = _flag_overrides(args)
    overrides = {**flags, **dict(args.assignments)}
    if not (args.minutes or args.epochs or args.steps):
        budget = Budget(epochs=1.0)
    else:
        budget = Budget(steps=args.steps, epochs=args.epochs, minutes=args.minutes)
    events = {"tensorboard": args.tensorboard is not False}
    if args.resume:
        fixed = [k for k in flags if k.startswith(("model.", "data."))]  # other flags: ignored, as always
        fixed += [k for k, _ in args.assignments if k not in LIVE_KEYS]
        session = resume_session(args.out, overrides, device=args.device, autosave_minutes=args.autosave_minutes,
                                 changes_identity=bool(args.config or args.preset or args.init_from or fixed),
                                 fresh_optimizer=args.fresh_optimizer, **events)
    else:
        session = new_session(args.out, overrides, config=args.config, preset=args.preset, family=args.model,
                              init_from=args.init_from, autosave_minutes=args.autosave_minutes, **events)
    session.events.images_every = args.images_every
    if args.tensorboard and not session.events.enabled and session.writer:
        print("note: --tensorboard needs tensorboardX (pip install 'ebm-studio[tensorboard]'); "
              "writing metrics.csv only", file=sys.stderr)
    return train(session, budget, args.out, quiet=args.quiet)


def resume_session(out: Path, overrides: dict, device: str | None, autosave_minutes: float, changes_identity: bool,
                   tensorboard: bool = True, fresh_optimizer: bool = False):
    from ..core.config import RunConfig
    from ..core.device import configure_threads
    from ..core.errors import ConfigError
    from ..core.session import TrainingSession
    from .options import resolve

    configure_threads()
    if changes_identity:
        raise ConfigError("--resume continues the saved run: --config/--model/--digits/--data/--limit cannot change it")
    session = TrainingSession(RunConfig(), run_dir=out, resume=True, device=resolve(device),
                              autosave_minutes=autosave_minutes, tensorboard=tensorboard,
                              fresh_optimizer=fresh_optimizer)
    live = {k: v for k, v in overrides.items() if k in LIVE_KEYS}
    if live:
        session.trainer.update_settings(session.cfg.with_overrides(**live))  # saved from trainer.cfg
    return session


def new_session(out: Path, overrides: dict, config: Path | None, preset: str | None, family: str | None,
                init_from: str | None, autosave_minutes: float, tensorboard: bool = True):
    from ..core.config import RunConfig, load_config
    from ..core.device import configure_threads
    from ..core.errors import ConfigError
    from ..core.presets import family_preset, preset_config
    from ..core.session import TrainingSession

    configure_threads()
    cfg = load_config(config) if config else RunConfig()
    if preset:
        cfg = preset_config(preset, cfg)
    elif family and family != cfg.model.family and not config:
        cfg = preset_config(family_preset(family), cfg)
    cfg = cfg.with_overrides(**overrides)
    if (out / "model.safetensors").exists():
        raise ConfigError(f"{out} already holds a run; use --resume to continue it or choose another --out")
    init_model = None
    if init_from:
        from ..core.models_io import open_model
        from ..core.session import start_from

        cfg, init_model = start_from(open_model(init_from), cfg)
    return TrainingSession(cfg, run_dir=out, device=None, autosave_minutes=autosave_minutes, init_model=init_model,
                           tensorboard=tensorboard)


def train(session, budget, out: Path, quiet: bool) -> int:
    """Drive the session's step generator to the budget's end or a signal, then save."""
    from ..core.device import describe_device
    from ..core.stop_signals import StopSignals

    tr = session.trainer
    if getattr(session, "notice", None) and getattr(session, "writer", True):
        print(f"note: {session.notice}", file=sys.stderr)
    if not quiet:
        print(f"training {session.cfg.model.family} on {len(session.data)} images, "
              f"device {describe_device(tr.device)}, from step {tr.step} -> {out}", file=sys.stderr)
    with StopSignals() as stop:
        try:
            with stop.interruptible():
                drive(session, budget, "train", quiet, should_stop=lambda: stop.requested)
        except KeyboardInterrupt:  # a second signal interrupted a step: keep the last completed one
            pass
        try:
            session.save()  # still inside StopSignals: a signal now waits for the save to finish
        finally:
            session.close()  # the event log and the run's lock
    if not quiet:
        state = "stopped" if stop.requested else "paused after a divergence" if session.paused_by_divergence else "done"
        print(f"{state}: saved {out} at step {tr.step}", file=sys.stderr)
    return 0


def drive(session, budget, desc: str, quiet: bool, should_stop=lambda: False):
    """Run ``session.steps(budget)`` with a progress bar in the budget's own unit (steps, or seconds
    for a wall-clock budget); divergence events are written above it. Stops where the session asks
    for a pause (``train.on_divergence = "pause"``: a command line cannot wait). Returns the last record."""
    tr = session.trainer
    if budget.steps is not None:
        total, unit = budget.steps, "step"
    elif budget.minutes is not None:
        total, unit = max(1, round(budget.minutes * 60.0)), "s"
    else:
        total, unit = max(1, round((budget.epochs or 1.0) * tr.steps_per_epoch)), "step"
    t0, done, record = time.monotonic(), 0, None
    bar = Progress(desc, total=total, unit=unit, quiet=quiet, rate=unit != "s")
    with bar, closing(session.steps(budget, should_stop=should_stop)) as steps:
        for step in steps:
            record = step.record
            done += 1
            if record.event:
                bar.write(f"[step {record.step}] {record.event}")
            if unit == "s":
                elapsed = time.monotonic() - t0
                bar.update(min(total, round(elapsed)), postfix=f"{done / max(elapsed, 1e-9):.1f} step/s  "
                                                               f"{format_record(record)}")
            else:
                bar.update(done, postfix=format_record(record))
            if step.pause_requested:
                break
    return record


def format_record(r) -> str:
    return (f"step {r.step}  epoch {r.epoch:.2f}  loss {r.loss:+.4f}  |grad| {r.grad_norm:.3g}  "
            f"E(data) {r.e_data:+.3f}  E(samples) {r.e_samples:+.3f}")
