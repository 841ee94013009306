"""Values checked where they enter: images and tensors finite, data sources that exist.

A NaN in an ``--init`` image or in a sampler's output spreads silently into every figure and
file downstream; these checks stop it at the door with a :class:`EbmStudioError` that says where
it came from.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import torch

from .errors import DataError, DivergenceError


def check_finite(x, what: str, error: type = DataError):
    """``x`` (tensor or array) unchanged if every value is finite; else ``error`` naming ``what``."""
    finite = torch.isfinite(x).all() if torch.is_tensor(x) else np.isfinite(np.asarray(x)).all()
    if not bool(finite):
        raise error(f"{what} contains NaN or infinite values")
    return x


def check_finite_samples(x, what: str = "the samples"):
    """Samples a model drew: a non-finite one means the model or its sampler diverged."""
    finite = torch.isfinite(x) if torch.is_tensor(x) else torch.from_numpy(np.isfinite(np.asarray(x)))
    if not bool(finite.all()):
        bad = int((~finite.reshape(finite.shape[0], -1).all(dim=1)).sum()) if finite.ndim else 1
        raise DivergenceError(f"{what}: {bad} of {finite.shape[0] if finite.ndim else 1} came out NaN or infinite "
                              f"(the weights or sampler settings make the chain diverge); nothing was written")
    return x


def data_source_problem(source: str | None) -> str | None:
    """Why a config's ``data.source`` cannot be read here (None when it looks fine).

    Cheap: looks at the path only (kind, permissions, the first bytes), so ``info`` can say it.
    """
    from .data import IMAGE_SUFFIXES, SPLIT_FILES

    if source in (None, "", "mnist"):
        return None
    path = Path(source)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{source}: dataset not found"
    except OSError as exc:
        return f"{source}: cannot read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        if not os.access(path, os.R_OK | os.X_OK):
            return f"{source}: folder is not readable"
        try:
            names = {p.name for p in path.iterdir()}
        except OSError as exc:
            return f"{source}: cannot list the folder ({exc.strerror or exc})"
        idx = {n for pair in SPLIT_FILES.values() for name in pair for n in (name, name[:-3])}
        if names & idx or any(Path(n).suffix.lower() in IMAGE_SUFFIXES for n in names):
            return None
        return f"{source}: folder holds no MNIST IDX files and no images"
    if not stat.S_ISREG(st.st_mode):
        return f"{source}: not a regular file or folder"
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return f"{source}: cannot read ({exc.strerror or exc})"
    if head[:2] == b"\x1f\x8b" or (len(head) == 4 and head[:2] == b"\0\0" and head[2] in (8, 9, 11, 12, 13, 14)):
        return None
    return f"{source}: not an IDX file (MNIST format) or a folder"
