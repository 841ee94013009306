"""The record every sampler yields after each step, whatever the model family.

Langevin dynamics (convolutional EBM) and Gibbs sweeps (Boltzmann machines) both produce a
sequence of image batches with energies; a shared record lets the canvas, the gallery, the CLI
and the tests watch any chain the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, TypeVar

import torch

T = TypeVar("T")


@dataclass
class ChainStep:
    step: int  # number of updates applied so far (0 = the initial state)
    x: torch.Tensor  # (N, 1, 28, 28) current images in [0, 1] (a view: clone before keeping)
    energy: torch.Tensor  # (N,) energy (or free energy) of ``x``
    grad: torch.Tensor | None = None  # (N, 1, 28, 28) dE/dx at ``x`` where the sampler has it


def drain(steps: Iterable[T]) -> T | None:
    """Run a step generator (a chain, a batch job) to its end; its last record (None if it yields none)."""
    last = None
    for last in steps:
        pass
    return last
