"""The checks a config value passes where it is read: type and range, with a message naming the key.

Every section of ``config.py`` validates its fields through these, so a bad value in a TOML file, a
``--set`` or a preset is refused with the same words wherever it comes from.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_int(name: str, v: Any, lo: int, hi: int) -> None:
    if not is_int(v):
        raise ConfigError(f"{name} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {v}")


def check_float(name: str, v: Any, lo: float, hi: float, open_low: bool = False) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{name} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {v}")
    if v < lo or v > hi or (open_low and v == lo):
        bound = f"> {lo}" if open_low else f">= {lo}"
        raise ConfigError(f"{name} must be {bound} and <= {hi}, got {v}")


def check_bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise ConfigError(f"{name} must be true or false, got {v!r}")


def check_choice(name: str, v: Any, options: tuple[str, ...]) -> None:
    if v not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}; got {v!r}")
