"""``ebm-studio info``: a run's config, parameter count and last metrics."""

from __future__ import annotations


def register(sub) -> None:
    i = sub.add_parser("info", help="show a run's config and last metrics")
    i.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    i.set_defaults(run=lambda a: info(a.model))


def info(model: str) -> int:
    from ..core.checkpoint import METRICS_FILE
    from ..core.config import config_to_toml
    from ..core.conv.energy import count_parameters
    from .sampling import SamplerOptions, open_for_sampling

    run, _ = open_for_sampling(model, SamplerOptions(device="cpu"))
    print(f"# {run.path}")
    print(config_to_toml(run.config))
    print(f"parameters: {count_parameters(run.model)}")
    metrics = run.path / METRICS_FILE
    if metrics.exists():
        lines = metrics.read_text().strip().splitlines()
        print(f"metrics: {len(lines) - 1} steps; last: {lines[-1] if len(lines) > 1 else '-'}")
    return 0
