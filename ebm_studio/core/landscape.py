"""Reading the energy landscape: how digit-like is an image, compared with real digits?

The raw energy of an EBM has no absolute scale (it is only defined up to a constant), so the
canvas reports where an image's energy falls among the energies of real MNIST-test digits: a
percentile of 90 means the image has lower energy (is more digit-like, to this model) than 90 %
of real test digits.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from .data import load_mnist
from .families import energy_of

_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def reference_energies(model, n: int = 1000) -> np.ndarray:
    """Sorted energies of ``n`` MNIST-test digits under ``model`` (cached per model object)."""
    cached = _cache.get(model)
    if cached is not None and len(cached) == n:
        return cached
    x = load_mnist("test").images[:n]
    energies = np.sort(np.concatenate([energy_of(model, x[i:i + 250]).float().cpu().numpy() for i in range(0, n, 250)]))
    _cache[model] = energies
    return energies


def energy_percentile(model, images, n_reference: int = 1000) -> np.ndarray:
    """Percent of real test digits whose energy is higher than each image's (100 = more digit-like than all)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 1, 28, 28)
    e = energy_of(model, x).float().cpu().numpy()
    ref = reference_energies(model, n_reference)
    return 100.0 * (1.0 - np.searchsorted(ref, e, side="right") / len(ref))
