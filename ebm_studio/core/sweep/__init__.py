"""Hyper-parameter sweeps on Optuna (``ebm-studio sweep``, the optional ``[sweep]`` extra).

The studio writes no scheduler of its own: Optuna's study, samplers, pruners and storages (SQLite
on one machine; PostgreSQL/MySQL or a journal file on a shared disk for several) do the search and
the bookkeeping. This package holds what is the studio's: the search space over config keys
(:mod:`.space`, plain TOML, no Optuna needed to read it), the objective that trains one trial
through the one training loop and scores it with the quality meter (:mod:`.objective`), the study
and its workers (:mod:`.study`, where Optuna is imported, lazily) and the results (:mod:`.report`).
"""

# The command line offers these without importing torch or Optuna (``ebm-studio --help`` stays instant).
PRUNERS = ("median", "asha", "none")
SAMPLERS = ("tpe", "random", "grid")
