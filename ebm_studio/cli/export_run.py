"""``ebm-studio export-run RUN out.zip``: a trained run as one file to send (see core/run_archive.py).
Every command that takes a model also takes such a .zip."""

from __future__ import annotations

import sys
from pathlib import Path

from .options import add_quiet


def register(sub) -> None:
    ex = sub.add_parser("export-run", help="pack a run (config, weights, metrics, samples) into one .zip to send",
                        description="Write a run directory as a .zip of safetensors, TOML, CSV and PNG files (no "
                                    "code, no pickles); any command taking a model opens it, e.g. "
                                    "'ebm-studio sample run.zip --out s.png'.")
    ex.add_argument("run", type=Path, help="run directory")
    ex.add_argument("out", type=Path, help="archive to write (.zip)")
    ex.add_argument("--with-trainer-state", action="store_true",
                    help="also pack trainer.safetensors (optimiser, buffers), to resume the training elsewhere")
    ex.add_argument("--no-samples", action="store_true",
                    help="do not draw a sample grid for a run that has no samples.png")
    add_quiet(ex)
    ex.set_defaults(handler=lambda a: export(a.run, a.out, a.with_trainer_state,
                                                           draw=not a.no_samples, quiet=a.quiet))


def export(run_dir: Path, out: Path, with_trainer_state: bool, draw: bool, quiet: bool) -> int:
    from ..core.checkpoint import load_run
    from ..core.output_paths import check_output_path
    from ..core.run_archive import SAMPLES_FILE, export_run

    check_output_path(out, "file", (".zip",))
    samples = None
    if draw and not (run_dir / SAMPLES_FILE).exists():
        samples = _sample_grid_png(load_run(run_dir), quiet)
    names = export_run(run_dir, out, samples_png=samples, with_trainer_state=with_trainer_state)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {', '.join(names)}", file=sys.stderr)
    return 0


def _sample_grid_png(run, quiet: bool) -> bytes:
    """A 8x8 grid of the model's samples from noise, as PNG bytes."""
    import tempfile

    from ..core.export import save_grid_png
    from .sampling import draw_samples

    samples = draw_samples(run, run.config, 64, "noise", "cpu", seed=0, quiet=quiet, desc="samples for the archive")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.png"
        save_grid_png(path, samples, 8, 8, scale=2)
        return path.read_bytes()
