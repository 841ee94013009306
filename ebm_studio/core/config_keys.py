"""The dotted keys of a run's config, for everything that names config fields by text.

``--set train.lr=2e-3`` (cli/config_set.py) and a sweep's search space (core/sweep/space.py) both
accept any field as ``section.name``; both take the keys, and their types from the defaults, from
the config dataclasses themselves here, so a new field is settable and searchable with no new code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import RunConfig


def config_keys() -> dict[str, Any]:
    """Every dotted key of a run's config (``train.lr``) and its default value (which gives its type)."""
    defaults = RunConfig()
    return {f"{section.name}.{f.name}": getattr(getattr(defaults, section.name), f.name)
            for section in dataclasses.fields(defaults) for f in dataclasses.fields(getattr(defaults, section.name))}
