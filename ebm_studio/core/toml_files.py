"""The guarded entry for TOML files (configs, a run's ``config.toml``).

``tomllib`` recurses once per nested array or inline table, so a few thousand ``[[[[`` end in
``RecursionError``, and a dotted key of ten thousand parts builds a tower of tables that costs
gigabytes. A cheap pre-check bounds the file's size, its bracket nesting and the parts of any
key before ``tomllib`` sees it; whatever it lets through, tomllib parses with its own errors.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError, EbmStudioError
from .files import read_bytes_checked

MAX_TOML_BYTES = 1 << 20  # a config is ~2 KB
MAX_NESTING = 32  # brackets open at once; our configs use 2 ([section] and a list)
MAX_KEY_PARTS = 16  # a.b.c: our keys have at most 2
_PART = r"""(?:[A-Za-z0-9_\-]+|"[^"\n]*"|'[^'\n]*')"""
_DOTTED = re.compile(r"%s(?:[ \t]*\.[ \t]*%s){%d,}" % (_PART, _PART, MAX_KEY_PARTS))


def check_toml_shape(text: str, name: str, error: type[EbmStudioError] = ConfigError) -> None:
    """Refuse text nested deeper or with longer dotted keys than any config of ours, before parsing.

    An upper bound on purpose: brackets inside strings count too, which only errs on the safe side.
    """
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    raise error(f"{name}: nested more than {MAX_NESTING} levels deep; refusing to parse")
        elif ch in "]}":
            depth = max(0, depth - 1)
    if _DOTTED.search(text):
        raise error(f"{name}: a key has more than {MAX_KEY_PARTS} dotted parts; refusing to parse")


def parse_toml(text: str, name: str, error: type[EbmStudioError] = ConfigError) -> dict[str, Any]:
    """``tomllib.loads`` behind :func:`check_toml_shape`; every failure is ``error`` naming ``name``."""
    if len(text) > MAX_TOML_BYTES:
        raise error(f"{name}: {len(text)} characters is larger than any config ({MAX_TOML_BYTES})")
    check_toml_shape(text, name, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{name}: not valid TOML ({exc})") from None
    except (RecursionError, MemoryError, ValueError) as exc:  # belt and braces behind the pre-check
        raise error(f"{name}: cannot parse ({exc.__class__.__name__})") from None


def read_toml(path: str | os.PathLike, error: type[EbmStudioError] = ConfigError) -> dict[str, Any]:
    """Read and parse a TOML file: a regular UTF-8 file of bounded size, shape and nesting."""
    path = Path(path)
    raw = read_bytes_checked(path, error, "TOML file", MAX_TOML_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_toml(text, str(path), error)
