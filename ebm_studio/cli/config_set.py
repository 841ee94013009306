"""``--set KEY=VALUE``: any field of the run configuration from the command line.

The keys and their types come from the config dataclasses themselves, and the allowed words of a
choice field from the config module's own tuples, so a new config field is settable with no new
flag. A value is read as TOML (``0.002``, ``true``, ``[200, 200]``, ``"adam"``), or as the bare
word for a string field; comma-separated integers are accepted for list fields (``200,200``).
Anything wrong is a usage error naming the key. ``benchmarks/quality.py`` uses the same parser.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from typing import Any

from ..core import config as C
from ..core.config_keys import config_keys as dotted_keys
from ..core.errors import ConfigError
from ..core.family_names import SHIPPED_FAMILIES

#: Choice fields and their words, taken from the config module's tuples.
CHOICES: dict[str, tuple[str, ...]] = {
    "model.family": SHIPPED_FAMILIES,
    "sampler.schedule": C.SCHEDULES,
    "sampler.method": C.METHODS,
    "sampler.ladder": C.LADDERS,
    "sampler.precision": C.PRECISIONS,
    "sampler.compile": C.COMPILE_CHOICES,
    "train.objective": C.OBJECTIVES,
    "train.negatives": C.NEGATIVE_SOURCES,
    "train.optimizer": C.OPTIMIZERS,
    "train.device": C.DEVICES,
    "train.on_divergence": C.DIVERGENCE_POLICIES,
    "train.precision": C.PRECISIONS,
}


def config_keys() -> dict[str, Any]:
    """Every settable dotted key and its default value (which gives its type)."""
    return dotted_keys()


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"train.lr=2e-3"`` -> ``("train.lr", 0.002)``; raises ConfigError saying what is wrong."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"--set wants KEY=VALUE, got {text!r}")
    keys = config_keys()
    if key not in keys:
        near = difflib.get_close_matches(key, list(keys), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else " (keys are section.name, e.g. train.lr)"
        raise ConfigError(f"--set: unknown config key {key!r}{hint}")
    default = keys[key]
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if isinstance(default, list) and isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            value = [int(v) for v in str(value).split(",")]
        except ValueError:
            raise ConfigError(f"--set {key}: expected integers separated by commas, got {raw!r}") from None
    elif isinstance(default, str) and not isinstance(value, str):
        value = raw
    choices = CHOICES.get(key)
    if choices is not None and value not in choices:
        raise ConfigError(f"--set {key}: choose from {', '.join(choices)}; got {raw!r}")
    try:
        C.RunConfig().with_overrides(**{key: value})
    except ConfigError as exc:
        if "sigma_min must not exceed" not in str(exc):  # depends on other keys: judged with them
            raise ConfigError(f"--set: {exc}") from None
    return key, value


def assignment(text: str) -> tuple[str, Any]:
    """argparse ``type=`` for ``--set``: a bad assignment is a usage error."""
    try:
        return parse_assignment(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["model.width=48", "train.lr=2e-3"]`` -> ``{"model.width": 48, "train.lr": 0.002}``."""
    return dict(parse_assignment(item) for item in items)


def add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="assignments", action="append", type=assignment, default=[], metavar="KEY=VALUE",
                   help="set any config field, e.g. --set train.optimizer=sgd --set model.hidden=200,200 "
                        "(repeatable; applied after the other flags; see config.toml of a run for the keys)")
