"""``ebm-studio sweep``: a hyper-parameter search on Optuna over a TOML search space.

Each trial is an ordinary run directory under ``OUT/trials/`` (``train``'s loop, the studio and
``evaluate`` open it), scored by the quality meter's classifier-FID with intermediate reports for
the pruner. The study lives in an Optuna storage (``--storage``, SQLite in OUT by default); the
same command on several machines against one shared storage runs one study in parallel, and
``--jobs N`` runs N worker processes here. At the end: ``results.csv``/``.md``, ``best.toml`` (for
``train --config``) and Optuna's plots in OUT (core/sweep/report.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import add_quiet, positive_int, seed_int


def register(sub) -> None:
    from ..core.sweep import PRUNERS, SAMPLERS  # the package alone is light: no torch, no Optuna

    s = sub.add_parser("sweep", help="hyper-parameter search on Optuna (pip install 'ebm-studio[sweep]')",
                       description="Search a TOML space of config keys; every trial is a run directory scored by "
                                   "the quality meter's FID. Needs the [sweep] extra.")
    s.add_argument("space", type=Path, help="search space TOML: base, [set], [budget], [meter], [params]")
    s.add_argument("--out", required=True, type=Path, help="folder for the trials' runs, the results and the plots")
    s.add_argument("--trials", type=positive_int, default=10, help="trials this command runs (default 10), "
                   "shared out over --jobs; several machines each run their own")
    s.add_argument("--jobs", type=positive_int, default=1, help="worker processes on this machine, each with its "
                   "share of the cores (default 1)")
    s.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db; postgresql://..., "
                   "mysql://..., or journal:///PATH for a journal file on a shared disk)")
    s.add_argument("--study", default="ebm-studio", help="study name in the storage (default ebm-studio)")
    s.add_argument("--sampler", choices=list(SAMPLERS), default="tpe", help="Optuna sampler (grid: choices only)")
    s.add_argument("--pruner", choices=list(PRUNERS), default="median",
                   help="stop poor trials at an intermediate report: median, asha (successive halving), none")
    s.add_argument("--startup-trials", type=positive_int, default=1, metavar="N",
                   help="median pruner: finished trials before it prunes (default 1)")
    s.add_argument("--seed", type=seed_int, help="the sampler's seed (default: random)")
    s.add_argument("--report-only", action="store_true", help="write the report of the study as it is; run nothing")
    s.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)  # the --jobs workers
    add_quiet(s)
    s.set_defaults(handler=_run)


def _run(a: argparse.Namespace) -> int:
    from ..core.device import configure_threads
    from ..core.output_paths import check_output_path
    from ..core.sweep.report import write_report
    from ..core.sweep.space import load_space
    from ..core.sweep.study import open_study, optuna_module, run_jobs, run_worker

    optuna_module()  # the extra is there, or a clear error before anything else
    check_output_path(a.out, "dir")
    space = load_space(a.space)
    a.out.mkdir(parents=True, exist_ok=True)
    storage = a.storage or f"sqlite:///{(a.out / 'study.db').resolve()}"
    study = open_study(a.study, storage, space, sampler=a.sampler, pruner=a.pruner, startup=a.startup_trials,
                       seed=a.seed)
    log = (lambda text: None) if a.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    status = 0
    if not a.report_only:
        if a.jobs > 1:
            worker = [str(a.space), "--out", str(a.out), "--storage", storage, "--study", a.study,
                      "--sampler", a.sampler, "--pruner", a.pruner, "--startup-trials", str(a.startup_trials)]
            worker += (["--seed", str(a.seed)] if a.seed is not None else []) + (["--quiet"] if a.quiet else [])
            status = run_jobs(worker, a.trials, a.jobs)
        else:
            configure_threads()
            run_worker(study, space, a.out, a.trials, log)
    if not a.no_report:
        for path in write_report(study, space, a.out):
            log(f"wrote {path}")
    return status
