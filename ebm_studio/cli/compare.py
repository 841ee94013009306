"""``ebm-studio compare``: energy models and baselines side by side (same data, budget, meter).

Trains each requested family from a cold start with its own recipe for one wall-clock budget
(reusing a finished run it finds in ``--out``, so an interrupted comparison picks up where it
stopped), adds any trained models given, and prints one table of the quality meter's figures and
the cost of a sample (``core.quality.comparison``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core.family_names import SHIPPED_FAMILIES
from ..core.limits import MAX_SAMPLES
from .options import DEVICE_CHOICES, add_quiet, at_most, positive_float, seed_int
from .progress import Progress
from .sampling import add_solver_args
from .train import drive


def register(sub) -> None:
    cp = sub.add_parser("compare", help="energy models and baselines side by side: same data, budget and meter",
                        description="Score models by the quality meter in one table. Give trained models (run "
                                    "directories, checkpoints, 'pretrained', 'pretrained:rbm'), and/or --train-minutes "
                                    "to train each of --families from a cold start for the same wall-clock budget "
                                    "into --out first.")
    cp.add_argument("models", nargs="*", help="trained models to include")
    cp.add_argument("--train-minutes", type=positive_float, help="train each of --families for this many minutes")
    cp.add_argument("--families", default="conv,rbm,vae,flow",
                    help=f"families to train with their own recipes (of {', '.join(SHIPPED_FAMILIES)})")
    cp.add_argument("--out", type=Path, help="directory for the trained runs and each model's sample grid")
    cp.add_argument("--n", type=at_most(MAX_SAMPLES), default=1000, help="samples per model, from uniform noise")
    cp.add_argument("--seed", type=seed_int, default=0, help="training and sampling seed")
    cp.add_argument("--device", choices=list(DEVICE_CHOICES), default="auto")
    cp.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    add_solver_args(cp, steps=True)
    add_quiet(cp, help="no training progress")
    cp.set_defaults(handler=lambda a: compare(a.models, a.train_minutes, a.families, a.out, a.n, a.seed, a.device,
                                          as_json=a.json, quiet=a.quiet, sampler=a.sampler, steps=a.steps))


def with_sampler(cfg, sampler: str | None, steps: int | None):
    """A compared model's config with ``--sampler``/``--steps``: they apply to the models that walk
    a noise ladder (noise-conditional conv energies); the others keep their own samplers."""
    from ..core.families import family
    from .sampling import ladder_overrides

    if cfg.sampler.schedule != "ancestral" or (sampler is not None and sampler not in family(cfg.model.family).methods):
        return cfg  # a model whose sampler does not take that method keeps its own
    over = ladder_overrides(cfg, sampler, steps)
    return cfg.with_overrides(**over) if over else cfg


def compare(models: list[str], train_minutes: float | None, families_text: str, out: Path | None, n: int, seed: int,
            device_name: str, as_json: bool, quiet: bool, sampler: str | None = None, steps: int | None = None) -> int:
    from ..core.device import configure_threads, resolve_device
    from ..core.errors import ConfigError
    from ..core.export import save_grid_png
    from ..core.models_io import open_model
    from ..core.quality import load_meter
    from ..core.quality.comparison import format_table, score_model, training_record

    families = [f.strip() for f in families_text.split(",") if f.strip()] if train_minutes else []
    bad = [f for f in families if f not in SHIPPED_FAMILIES]
    if bad:
        raise ConfigError(f"--families: unknown {', '.join(bad)} (choose from {', '.join(SHIPPED_FAMILIES)})")
    if not models and not families:
        raise ConfigError("nothing to compare: give trained models and/or --train-minutes")
    if families and out is None:
        raise ConfigError("--train-minutes needs --out: the trained runs are kept there")
    if out is not None:
        from ..core.output_paths import check_output_path

        check_output_path(out, "dir")
        out.mkdir(parents=True, exist_ok=True)
    configure_threads()
    device = resolve_device(device_name)
    meter = load_meter()
    entries = []  # (name, model, config, run directory)
    for spec in models:
        run = open_model(spec, device=device)
        entries.append((str(spec), run.model, run.config, run.path))
    for family in families:
        run_dir = train_for_comparison(family, out, train_minutes, seed, device_name, quiet)
        run = open_model(run_dir, device=device)
        entries.append((f"{family} ({train_minutes:g} min)", run.model, run.config, run.path))
    rows = []
    for name, model, cfg, path in entries:
        cfg = with_sampler(cfg, sampler, steps)
        train_steps, minutes = training_record(path if path.is_dir() else None)
        with Progress(f"sample {name}", total=0, quiet=quiet) as bar:
            row, samples = score_model(name, model, cfg, meter, n=n, seed=seed, device=device, train_steps=train_steps,
                                       train_minutes=minutes,
                                       progress=lambda done, total: bar.update(done, total=total))
        rows.append(row)
        if out is not None:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
            save_grid_png(out / f"{safe}.png", samples[:100, 0].numpy(), 10, 10, scale=2)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def train_for_comparison(family: str, out: Path, minutes: float, seed: int, device_name: str, quiet: bool) -> Path:
    """Train ``family`` with its own recipe from a cold start for the shared budget into
    ``out/family`` (an existing finished run there is reused, so an interrupted comparison
    picks up where it stopped)."""
    from ..core.config import RunConfig
    from ..core.presets import family_preset, preset_config
    from ..core.session import Budget, TrainingSession

    run_dir = out / family
    if (run_dir / "model.safetensors").exists() and (run_dir / "compare.done").exists():
        return run_dir
    cfg = preset_config(family_preset(family), RunConfig()).with_overrides(
        **{"model.family": family, "train.seed": seed, "train.device": device_name})
    session = TrainingSession(cfg, run_dir=run_dir, autosave_minutes=5.0)
    if not quiet:
        print(f"training {family} for {minutes:g} min -> {run_dir}", file=sys.stderr)
    try:
        drive(session, Budget(minutes=minutes), f"train {family}", quiet)
    finally:
        session.save()
    (run_dir / "compare.done").write_text(f"{minutes}\n")
    return run_dir
