"""Argument types and shared option groups of the ``ebm-studio`` sub-commands.

Every value is checked by argparse itself (a bad value is a usage error, exit status 2, before any
work starts), and each command reads its own options into a small typed record instead of passing
the argparse namespace around.
"""

from __future__ import annotations

import argparse
import math

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


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


def add_quiet(p: argparse.ArgumentParser, help: str = "no progress output") -> None:
    p.add_argument("--quiet", action="store_true", help=help)


def resolve(device_name: str | None):
    """The torch device for ``--device`` (None = auto)."""
    from ..core.device import resolve_device

    return resolve_device(device_name or "auto")
