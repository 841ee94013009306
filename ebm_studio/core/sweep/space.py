"""A sweep's search space: ranges, choices and log scales over any config key, in TOML.

A space sits next to its base (a preset name or a config TOML beside it) and says how long each
trial trains and how often the quality meter scores it::

    base = "dsm"                      # a preset, or a path to a config TOML (relative to this file)
    [set]                             # the same in every trial
    "data.limit" = 2000
    [budget]
    steps = 300                       # or minutes = 2.0, or epochs = 1.0
    reports = 3                       # FID after 1/3, 2/3 and all of the budget; pruning in between
    [meter]
    samples = 500                     # images scored per report (and their seed)
    seed = 0
    [params]
    "train.lr" = { low = 1e-4, high = 3e-3, log = true }
    "train.sigma_skew" = { low = 1.0, high = 3.0, step = 0.5 }
    "model.width" = { choices = [16, 32, 48] }

A key's type (integer or real) is its default's. Everything is checked when the file is read,
each bound and choice against the config's own validation, so a bad space fails before any trial.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import RunConfig, load_config
from ..config_keys import config_keys
from ..errors import ConfigError
from ..presets import PRESETS, preset_config


@dataclass(frozen=True)
class Param:
    """One searched key: a range (``low``..``high``, maybe ``log`` or with a ``step``) or ``choices``."""

    key: str
    kind: str  # "int", "float" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """The value an Optuna trial picks for this key."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)


@dataclass(frozen=True)
class SearchSpace:
    base: RunConfig
    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    minutes: float | None = None
    epochs: float | None = None
    reports: int = 3
    meter_samples: int = 500
    meter_seed: int = 0
    source: Path | None = None

    def config(self, values: dict[str, Any]) -> RunConfig:
        """The run config of a trial: the base, the fixed keys, then the trial's values."""
        return self.base.with_overrides(**{**self.fixed, **values})

    def suggest(self, trial) -> dict[str, Any]:
        return {p.key: p.suggest(trial) for p in self.params}

    def grid(self) -> dict[str, list]:
        """The space as a grid (Optuna's GridSampler): choices only."""
        ranged = [p.key for p in self.params if p.kind != "choice"]
        if ranged:
            raise ConfigError(f"the grid sampler needs choices for every key; ranges: {', '.join(ranged)}")
        return {p.key: list(p.choices) for p in self.params}


def load_space(path: str | Path) -> SearchSpace:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the search space ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_space(raw, path)


def parse_space(raw: dict, path: Path | None = None) -> SearchSpace:
    where = str(path) if path else "search space"
    unknown = set(raw) - {"base", "set", "budget", "meter", "params"}
    if unknown:
        raise ConfigError(f"{where}: unknown section or key {sorted(unknown)[0]!r} "
                          "(expected base, [set], [budget], [meter], [params])")
    base = _base(raw.get("base", "dsm"), path, where)
    keys = config_keys()
    fixed = dict(_table(raw, "set", where))
    for key in fixed:
        _known(key, keys, where)
    try:
        base.with_overrides(**fixed)
    except ConfigError as exc:
        raise ConfigError(f"{where}: [set]: {exc}") from None
    params = tuple(_param(key, spec, keys, base, fixed, where) for key, spec in _table(raw, "params", where).items())
    if not params:
        raise ConfigError(f"{where}: [params] names no key to search")
    budget = _table(raw, "budget", where)
    given = [k for k in ("steps", "minutes", "epochs") if k in budget]
    if len(given) != 1:
        raise ConfigError(f"{where}: [budget] needs exactly one of steps, minutes, epochs")
    limit = budget[given[0]]
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit < 1e9 \
            or (given[0] == "steps" and not isinstance(limit, int)):
        raise ConfigError(f"{where}: [budget] {given[0]} = {limit!r} is not a positive number"
                          + (" of steps" if given[0] == "steps" else ""))
    reports = _count(budget.get("reports", 3), "[budget] reports", where, 1, 100)
    meter = _table(raw, "meter", where)
    samples = _count(meter.get("samples", 500), "[meter] samples", where, 16, 100_000)
    seed = _count(meter.get("seed", 0), "[meter] seed", where, 0, 2**31 - 1)
    return SearchSpace(base, params, fixed, reports=reports, meter_samples=samples, meter_seed=seed,
                       source=path, **{given[0]: limit})


def _base(spec: Any, path: Path | None, where: str) -> RunConfig:
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"{where}: base must be a preset name or the path of a config TOML")
    if spec in PRESETS:
        return preset_config(spec)
    file = Path(spec) if path is None or Path(spec).is_absolute() else path.parent / spec
    if not file.exists():
        raise ConfigError(f"{where}: base {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
    return load_config(file)


def _table(raw: dict, name: str, where: str) -> dict:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return table


def _known(key: str, keys: dict, where: str) -> None:
    if key not in keys:
        near = difflib.get_close_matches(key, list(keys), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else " (keys are section.name, e.g. train.lr)"
        raise ConfigError(f"{where}: unknown config key {key!r}{hint}")


def _count(value: Any, name: str, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {name} = {value!r} is not an integer in [{low}, {high}]")
    return value


def _param(key: str, spec: Any, keys: dict, base: RunConfig, fixed: dict, where: str) -> Param:
    _known(key, keys, where)
    if key in fixed:
        raise ConfigError(f"{where}: {key} is both fixed in [set] and searched in [params]")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: {key} wants a table: {{ low = .., high = .. }} or {{ choices = [..] }}")
    default = keys[key]

    def check(value: Any) -> None:
        try:
            base.with_overrides(**{**fixed, key: value})
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {key} = {value!r}: {exc}") from None

    if "choices" in spec:
        extra = set(spec) - {"choices"}
        choices = spec["choices"]
        if extra or not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: {key}: choices = [a non-empty list], and nothing else")
        if not all(isinstance(c, (bool, int, float, str)) for c in choices):
            raise ConfigError(f"{where}: {key}: each choice must be a number, a word or true/false")
        for c in choices:
            check(c)
        return Param(key, "choice", choices=tuple(choices))
    extra = set(spec) - {"low", "high", "log", "step"}
    if extra or "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: {key}: a range is {{ low = .., high = .., log = true?, step = ..? }}")
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise ConfigError(f"{where}: {key} is not a number; give it choices = [..]")
    kind = "int" if isinstance(default, int) else "float"
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    numbers = [v for v in (low, high, step) if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in numbers):
        raise ConfigError(f"{where}: {key}: low, high and step must be finite numbers")
    if kind == "int" and any(not isinstance(v, int) for v in numbers):
        raise ConfigError(f"{where}: {key} is an integer key: low, high and step must be integers")
    if not low < high or (log and low <= 0) or (step is not None and step <= 0) or not isinstance(log, bool):
        raise ConfigError(f"{where}: {key}: needs low < high (and low > 0 on a log scale, step > 0)")
    if log and step is not None:
        raise ConfigError(f"{where}: {key}: a log scale takes no step")
    check(low)
    check(high)
    return Param(key, kind, low=low, high=high, log=log, step=step)
