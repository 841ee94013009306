"""``ebm-studio compare``: energy models and baselines side by side (same data, budget, meter).

Trains each requested family from a cold start with its own recipe for one wall-clock budget
(reusing a finished run it finds in ``--out``, so an interrupted comparison picks up where it
stopped), adds any trained models given, and prints one table of the quality meter's figures and
the cost of a sample (``core.quality.comparison``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .cli import _progress
from .core.families import family_names


def cmd_compare(args) -> int:
    from .core.device import configure_threads, resolve_device
    from .core.errors import ConfigError
    from .core.export import save_grid_png
    from .core.models_io import open_model
    from .core.quality import load_meter
    from .core.quality.comparison import format_table, score_model, training_record

    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.train_minutes else []
    bad = [f for f in families if f not in family_names()]
    if bad:
        raise ConfigError(f"--families: unknown {', '.join(bad)} (choose from {', '.join(family_names())})")
    if not args.models and not families:
        raise ConfigError("nothing to compare: give trained models and/or --train-minutes")
    if families and args.out is None:
        raise ConfigError("--train-minutes needs --out: the trained runs are kept there")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    configure_threads()
    device = resolve_device(args.device)
    meter = load_meter()
    entries = []  # (name, model, config, run directory)
    for spec in args.models:
        run = open_model(spec, device=device)
        entries.append((str(spec), run.model, run.config, run.path))
    for family in families:
        run_dir = _train_for_comparison(family, args)
        run = open_model(run_dir, device=device)
        entries.append((f"{family} ({args.train_minutes:g} min)", run.model, run.config, run.path))
    rows = []
    for name, model, cfg, path in entries:
        if not args.quiet:
            print(f"sampling {args.n} from {name}…", file=sys.stderr)
        steps, minutes = training_record(path if path.is_dir() else None)
        row, samples = score_model(name, model, cfg, meter, n=args.n, seed=args.seed, device=device,
                                   train_steps=steps, train_minutes=minutes)
        rows.append(row)
        if args.out is not None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            save_grid_png(args.out / f"{safe}.png", samples[:100, 0].numpy(), 10, 10, scale=2)
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def _train_for_comparison(family: str, args) -> Path:
    """Train ``family`` with its own recipe from a cold start for the shared budget into
    ``--out/family`` (an existing finished run there is reused, so an interrupted comparison
    picks up where it stopped)."""
    from .core.config import RunConfig
    from .core.presets import family_preset, preset_config
    from .core.session import Budget, TrainingSession

    run_dir = args.out / family
    if (run_dir / "model.safetensors").exists() and (run_dir / "compare.done").exists():
        return run_dir
    cfg = preset_config(family_preset(family), RunConfig()).with_overrides(
        **{"model.family": family, "train.seed": args.seed, "train.device": args.device})
    session = TrainingSession(cfg, run_dir=run_dir, autosave_minutes=5.0)
    if not args.quiet:
        print(f"training {family} for {args.train_minutes:g} min -> {run_dir}", file=sys.stderr)
    t0, last = time.monotonic(), 0.0
    try:
        for record in session.run(Budget(minutes=args.train_minutes)):
            now = time.monotonic()
            if not args.quiet and now - last > 5.0:
                last = now
                _progress(record, now - t0, None)
    finally:
        session.save()
    (run_dir / "compare.done").write_text(f"{args.train_minutes}\n")
    return run_dir
