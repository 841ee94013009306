"""Argument types and shared option groups of the ``ebm-studio`` sub-commands.

Every value is checked by argparse itself (a bad value is a usage error, exit status 2, before any
work starts), and each command reads its own options into a small typed record instead of passing
the argparse namespace around.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def _int_at_least(text: str, low: int, words: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
    if v < low:
        raise argparse.ArgumentTypeError(f"expected {words}, got {v}")
    return v


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def nonneg_int(text: str) -> int:
    return _int_at_least(text, 0, "an integer >= 0")


def seed_int(text: str) -> int:
    """A seed: 0 .. limits.MAX_SEED (larger ones overflow the seeds derived from it)."""
    from ..core.limits import MAX_SEED

    v = nonneg_int(text)
    if v > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and {MAX_SEED}, got {v}")
    return v


def at_most(limit: int):
    """An argument type: a positive integer of at most ``limit`` (the bounds live in core/limits.py)."""
    def bounded(text: str) -> int:
        v = positive_int(text)
        if v > limit:
            raise argparse.ArgumentTypeError(f"expected at most {limit}, got {v}")
        return v
    bounded.__name__ = "bounded_int"
    return bounded


def finite_float(text: str, positive: bool = False) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if v < 0 or (positive and v == 0):
        raise argparse.ArgumentTypeError(f"expected a {'positive' if positive else 'non-negative'} number, got {v}")
    return v


def positive_float(text: str) -> float:
    return finite_float(text, positive=True)


def fraction(text: str) -> float:
    v = finite_float(text)
    if v > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {v}")
    return v


def given(overrides: dict[str, Any]) -> dict[str, Any]:
    """The config overrides whose flag was given (not None): a command's flags as dotted keys."""
    return {key: value for key, value in overrides.items() if value is not None}


def add_quiet(p: argparse.ArgumentParser, help: str = "no progress output") -> None:
    p.add_argument("--quiet", action="store_true", help=help)


def resolve(device_name: str | None):
    """The torch device for ``--device`` (None = auto)."""
    from ..core.device import resolve_device

    return resolve_device(device_name or "auto")
