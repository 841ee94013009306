"""The base energy's fit, kept between runs of the same data: a faster start.

Every new run of the noise-conditional energy first fits its base (the 100-component mixture:
k-means and a principal-component fit per cluster), seconds of the first minute a person watches,
and the same seconds again for every run on the same digits with the same seed. The fit depends
only on those images, the seed, the base's sizes and the code, so it is stored once under a key of
all of them (a blake2b digest) as a safetensors file, and a later run loads it: the same buffers
to the bit, in a fraction of a second.

Where: ``$EBM_STUDIO_CACHE_DIR`` if set (empty: no cache), else ``$XDG_CACHE_HOME/ebm-studio/priors``
or ``~/.cache/ebm-studio/priors``. A file that is missing, unreadable or of another shape is
refitted and rewritten; a cache that cannot be written costs only the time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..tensor_files import load_tensors, save_tensors

CACHE_ENV = "EBM_STUDIO_CACHE_DIR"
FIT_VERSION = "1"  # bump when a base's fit changes, so old files are not taken for the new fit


def cache_dir() -> Path | None:
    """Where fits are kept (None: caching is off)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return Path(chosen).expanduser() if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ebm-studio" / "priors"


def fit_key(prior: nn.Module, images: torch.Tensor, seed: int) -> str:
    """A digest of everything the fit depends on: the images, the seed, the base's kind and sizes."""
    h = hashlib.blake2b(digest_size=16)
    sizes = ";".join(f"{k}:{tuple(v.shape)}" for k, v in prior.state_dict().items())
    h.update(f"{FIT_VERSION}|{type(prior).__name__}|{sizes}|{seed}|{torch.__version__}|".encode())
    data = images.detach().to("cpu", torch.float32).contiguous()
    h.update(str(tuple(data.shape)).encode())
    h.update(data.numpy().tobytes())
    return h.hexdigest()


def fit_prior(prior: nn.Module, images: torch.Tensor, seed: int) -> bool:
    """``prior.fit(images, seed)``, or its stored result; True when it came from the cache."""
    folder = cache_dir()
    path = None if folder is None else folder / f"{fit_key(prior, images, seed)}.safetensors"
    if path is not None and path.exists():
        try:
            tensors, _ = load_tensors(path)
            prior.load_state_dict(tensors)
            return True
        except (CheckpointError, RuntimeError, OSError):
            pass  # unreadable, or another shape: fit afresh and overwrite it
    prior.fit(images, seed=seed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_tensors(path, {k: v.detach().cpu().contiguous() for k, v in prior.state_dict().items()})
        except (OSError, CheckpointError):
            pass
    return False
