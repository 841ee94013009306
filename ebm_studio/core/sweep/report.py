"""What a sweep leaves behind: its results table, its best config and Optuna's plots.

Written from the study itself (every trial of every worker and machine), so any worker, or
``ebm-studio sweep --report-only`` later, writes the same files:

* ``results.csv`` and ``results.md``: one row per trial (number, state, FID, steps, run directory,
  the searched values), best first;
* ``best.toml``: the best finished trial's config, which ``ebm-studio train --config`` takes;
* ``history.html`` and ``importance.html``: Optuna's optimisation history and parameter
  importances (plotly, in the ``[sweep]`` extra), or PNGs by matplotlib when only that is installed.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import save_config
from .space import SearchSpace


def _rows(study) -> list[dict]:
    keys = sorted({k for t in study.trials for k in t.params})
    rows = []
    for t in study.trials:
        row = {"trial": t.number, "state": t.state.name, "fid": "" if t.value is None else f"{t.value:.4f}",
               "last_fid": "", "steps": t.user_attrs.get("steps", ""), "run_dir": t.user_attrs.get("run_dir", "")}
        if t.intermediate_values:
            row["last_fid"] = f"{t.intermediate_values[max(t.intermediate_values)]:.4f}"
        row.update({k: t.params.get(k, "") for k in keys})
        rows.append(row)
    rows.sort(key=lambda r: (r["fid"] == "", float(r["fid"]) if r["fid"] else math.inf, r["trial"]))
    return rows


def results_csv(study) -> str:
    rows = _rows(study)
    out = io.StringIO()
    if rows:
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out.getvalue()


def results_markdown(study) -> str:
    rows = _rows(study)
    if not rows:
        return "No trials yet.\n"
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def best_trial(study):
    done = [t for t in study.trials if t.state.name == "COMPLETE" and t.value is not None]
    return min(done, key=lambda t: t.value) if done else None


def write_report(study, space: SearchSpace, out: Path) -> list[Path]:
    """Every file of the report that could be written; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("results.csv", results_csv(study)), ("results.md", results_markdown(study))):
        atomic_write_text(out / name, text)
        written.append(out / name)
    best = best_trial(study)
    if best is not None:
        save_config(space.config(dict(best.params)), out / "best.toml",
                    {"sweep_trial": best.number, "sweep_fid": float(best.value)})
        written.append(out / "best.toml")
    written += write_plots(study, out)
    return written


def write_plots(study, out: Path) -> list[Path]:
    """Optimisation history and parameter importances: HTML by plotly, else PNG by matplotlib, else none."""
    import optuna.visualization as vis

    plots = {"history": vis.plot_optimization_history}
    finished = [t for t in study.trials if t.state.name == "COMPLETE"]
    if len(finished) >= 2 and len({tuple(sorted(t.params.items())) for t in finished}) >= 2:
        plots["importance"] = vis.plot_param_importances  # needs two different finished trials
    written = []
    if vis.is_available():
        for name, plot in plots.items():
            try:
                plot(study).write_html(out / f"{name}.html", include_plotlyjs=True)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances of parameters that never varied
            written.append(out / f"{name}.html")
        return written
    import optuna.visualization.matplotlib as mvis

    if not mvis.is_available():
        return written
    for name in plots:
        try:
            ax = getattr(mvis, plots[name].__name__)(study)
            ax.figure.savefig(out / f"{name}.png", dpi=100, bbox_inches="tight")
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        written.append(out / f"{name}.png")
    return written
