"""The Optuna study of a sweep: its storage, sampler and pruner, and the workers that run its trials.

Optuna is imported here and only here, lazily (:func:`optuna_module`), so the studio works without
the ``[sweep]`` extra and says how to get it. A study lives in an Optuna storage named by a URL:

* ``sqlite:///DIR/study.db`` (the default, one file on one machine);
* ``postgresql://...`` or ``mysql://...`` (an RDB server several machines reach);
* ``journal:///shared/disk/study.log`` (Optuna's journal file, for a disk several machines share).

The same command on several machines against one storage runs one study in parallel: each worker
asks the storage for its next trial, so no trial is run twice and none is lost. ``--jobs N`` starts
N such workers on one machine as processes (torch's threads are per process, so each gets its
share of the cores: ``EBM_STUDIO_THREADS`` = cores / N).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from . import PRUNERS, SAMPLERS
from .objective import run_trial
from .space import SearchSpace

INSTALL_HINT = "sweeps need Optuna: pip install 'ebm-studio[sweep]'"


def optuna_module():
    """``optuna``, or a clear error naming the extra that installs it."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return optuna


def storage_of(url: str):
    """An Optuna storage for ``url`` (see the module's docstring)."""
    optuna = optuna_module()
    if url.startswith("journal:"):
        path = url[len("journal:"):].removeprefix("//")
        if not path:
            raise ConfigError("--storage journal:///PATH needs the journal file's path")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if "://" not in url:
        raise ConfigError(f"--storage {url!r} is not a URL (sqlite:///FILE, postgresql://..., journal:///FILE)")
    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite:") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as exc:  # sqlalchemy's many errors: a missing driver, a refused connection...
        raise ConfigError(f"--storage {url}: cannot open it ({str(exc).splitlines()[0][:200]})") from None


def pruner_of(name: str, startup: int):
    optuna = optuna_module()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner: choose from {', '.join(PRUNERS)}")


def sampler_of(name: str, space: SearchSpace, seed: int | None):
    optuna = optuna_module()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    raise ConfigError(f"--sampler: choose from {', '.join(SAMPLERS)}")


def open_study(name: str, storage_url: str, space: SearchSpace, sampler: str = "tpe", pruner: str = "median",
               startup: int = 1, seed: int | None = None):
    """The study ``name`` in the storage, created on first use (the same on every worker)."""
    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=name, storage=storage_of(storage_url), direction="minimize",
                               load_if_exists=True, sampler=sampler_of(sampler, space, seed),
                               pruner=pruner_of(pruner, startup))


def run_worker(study, space: SearchSpace, out: Path, trials: int, log: Callable[[str], None] = print) -> None:
    """Run ``trials`` trials of the study in this process, one after another."""
    optuna = optuna_module()
    from ..quality import load_meter

    meter = load_meter()

    def objective(trial):
        return run_trial(trial, space, out, meter, optuna.TrialPruned, log)

    study.optimize(objective, n_trials=trials, catch=(), gc_after_trial=True)


def spread(trials: int, jobs: int) -> list[int]:
    """``trials`` shared out over ``jobs`` workers as evenly as can be (none gets zero)."""
    jobs = max(1, min(jobs, trials))
    return [trials // jobs + (1 if i < trials % jobs else 0) for i in range(jobs)]


def threads_per_job(jobs: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


def run_jobs(worker_args: list[str], trials: int, jobs: int) -> int:
    """``jobs`` worker processes (``python -m ebm_studio sweep ... --jobs 1 --trials k``) side by side,
    each with its share of the cores; the exit status of the first that failed, else 0."""
    env = dict(os.environ, EBM_STUDIO_THREADS=str(threads_per_job(jobs)), OMP_NUM_THREADS=str(threads_per_job(jobs)))
    procs = [subprocess.Popen([sys.executable, "-m", "ebm_studio", "sweep", *worker_args, "--jobs", "1",
                               "--trials", str(k), "--no-report"], env=env) for k in spread(trials, jobs)]
    codes = [p.wait() for p in procs]
    return next((c for c in codes if c), 0)
