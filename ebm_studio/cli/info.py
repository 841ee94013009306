"""``ebm-studio info``: a run's config, parameter count and last metrics."""

from __future__ import annotations

import os


def register(sub) -> None:
    i = sub.add_parser("info", help="show a run's config and last metrics")
    i.add_argument("model", help="run directory, checkpoint, or 'pretrained'")
    i.set_defaults(handler=lambda a: info(a.model))


def info(model: str) -> int:
    from ..core.checkpoint import METRICS_FILE
    from ..core.config import config_to_toml
    from ..core.conv.energy import count_parameters
    from ..core.run_archive import is_archive
    from .sampling import SamplerOptions, open_for_sampling

    run, _ = open_for_sampling(model, SamplerOptions(device="cpu"))
    print(f"# {model if is_archive(model) else run.path}")
    print(config_to_toml(run.config))
    print(f"parameters: {count_parameters(run.model)}")
    from ..core.metrics_log import MetricsError, read_metrics
    from ..core.values import data_source_problem

    problem = data_source_problem(run.config.data.source)
    if problem:
        print(f"data: {problem}")
    metrics = run.path / METRICS_FILE
    if os.path.lexists(metrics):
        try:
            rows = read_metrics(metrics)
            last = ",".join(rows[-1].values()) if rows else "-"
            print(f"metrics: {len(rows)} steps; last: {last}")
        except MetricsError as exc:
            print(f"metrics: unreadable ({exc})")
    return 0
