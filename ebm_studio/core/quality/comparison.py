"""Models side by side: energy-based models and the baselines on the same data, budget and meter.

``compare`` answers the question a newcomer asks of an EBM lab: is this worth it next to a VAE or
a flow? Each family is trained from a cold start with its own recipe (``presets``) on the same
data for the same wall-clock budget, through the same :class:`~..session.TrainingSession`, then
judged by the same quality meter on samples drawn from uniform noise by its own sampler. The
table also shows what each sample costs, since that is where energy-based models pay.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..checkpoint import METRICS_FILE
from ..config import RunConfig
from ..families import draw_from_noise
from .metrics import QualityMeter

COLUMNS = (("name", "model", "{}"), ("family", "family", "{}"), ("parameters", "parameters", "{:,}"),
           ("train_steps", "training steps", "{:,}"), ("train_minutes", "training min", "{:.1f}"),
           ("sample_ms", "ms / sample", "{:.2f}"), ("fid", "classifier-FID", "{:.1f}"),
           ("confidence", "confidence", "{:.3f}"), ("coverage_bits", "coverage (bits)", "{:.2f}"),
           ("nn_distance", "nearest-train distance", "{:.2f}"))


@dataclass
class ComparisonRow:
    name: str
    family: str
    parameters: int
    train_steps: int | None
    train_minutes: float | None
    sample_ms: float
    fid: float
    confidence: float
    coverage_bits: float
    nn_distance: float

    def as_dict(self) -> dict:
        return asdict(self)


def training_record(run_dir: Path | None) -> tuple[int | None, float | None]:
    """Steps and training minutes (sum of step times) from a run's metrics log, if it has one."""
    if run_dir is None or not (Path(run_dir) / METRICS_FILE).exists():
        return None, None
    from ..metrics_log import MetricsError, read_metrics

    try:
        rows = read_metrics(Path(run_dir) / METRICS_FILE)
    except MetricsError:  # an unreadable log costs the row its training figures, not the comparison
        return None, None
    if not rows:
        return 0, 0.0
    try:
        seconds = sum(float(r["seconds"]) for r in rows)
        return int(float(rows[-1]["step"])), seconds / 60.0
    except (KeyError, ValueError):
        return int(float(rows[-1]["step"])), None


def score_model(name: str, model: torch.nn.Module, cfg: RunConfig, meter: QualityMeter, n: int = 1000,
                seed: int = 0, device="cpu", train_steps: int | None = None,
                train_minutes: float | None = None) -> tuple[ComparisonRow, torch.Tensor]:
    """Draw ``n`` samples from uniform noise with the model's own sampler, time them, score them."""
    model = model.to(device).eval()
    t0 = time.perf_counter()
    samples = draw_from_noise(model, cfg, n, seed=seed, device=device)
    ms = (time.perf_counter() - t0) * 1000.0 / n
    report = meter.evaluate(samples)
    row = ComparisonRow(name=name, family=cfg.model.family, parameters=sum(p.numel() for p in model.parameters()),
                        train_steps=train_steps, train_minutes=train_minutes, sample_ms=ms, fid=report.fid,
                        confidence=report.confidence, coverage_bits=report.coverage_bits,
                        nn_distance=report.nn_distance)
    return row, samples


def format_table(rows: list[ComparisonRow]) -> str:
    """A Markdown table, one model a row."""
    head = "| " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, rule]
    for row in rows:
        d = row.as_dict()
        cells = ["–" if d[key] is None else fmt.format(d[key]) for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
