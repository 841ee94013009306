"""Fixed-step solvers of dx/dt = v(x, t) from t = 0 to t = 1, one state at a time.

Flow matching draws a sample by integrating its learned velocity from Gaussian noise (t = 0) to
an image (t = 1) on a uniform grid of ``steps`` steps of size h = 1 / steps:

- ``euler``: x <- x + h·v(x, t); one evaluation a step, first order (global error O(h)).
- ``heun`` (the explicit trapezoid rule): predict x' = x + h·v(x, t), then
  x <- x + h/2·(v(x, t) + v(x', t + h)); two evaluations a step, second order (O(h²)).

As in the Heun sampler of Karras et al. (2022), the last step is an Euler step, so Heun costs
2·steps − 1 evaluations (what ``SamplerConfig.evaluations`` counts for it) and keeps its order:
one step's local error of O(h²) adds O(h²) to the global error. The solver is a generator, like
every sampler of the studio, so a caller can show progress, cancel, or keep the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from ..errors import ConfigError

SOLVERS = ("heun", "euler")
Velocity = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class OdeState:
    step: int  # steps taken (0 = the start)
    t: float  # the time of ``x``
    x: torch.Tensor
    velocity: torch.Tensor  # the velocity last evaluated: v(x, t), except at the end (the last step's first stage)


def check_solver(method: str) -> str:
    if method not in SOLVERS:
        raise ConfigError(f"sampler.method = {method!r}: flow matching integrates its ODE with "
                          f"{' or '.join(SOLVERS)} (the other methods walk an energy's noise ladder)")
    return method


def integrate(velocity: Velocity, x: torch.Tensor, steps: int, method: str = "heun") -> Iterator[OdeState]:
    """The states x(0), x(h), ..., x(1) of ``steps`` solver steps from ``x`` at t = 0. ``velocity(x, t)``
    is evaluated once per state before the end (that value is the state's ``velocity``, and the
    first stage of the step that leaves it) and, for Heun, once more per step but the last."""
    check_solver(method)
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"the ODE needs at least one solver step, got {steps!r}")
    h = 1.0 / steps
    v = velocity(x, 0.0)
    yield OdeState(0, 0.0, x, v)
    for k in range(steps):
        last = k + 1 == steps
        t_next = 1.0 if last else (k + 1) * h
        x_euler = x + h * v
        x = x_euler if last or method == "euler" else x + 0.5 * h * (v + velocity(x_euler, t_next))
        if not last:
            v = velocity(x, t_next)
        yield OdeState(k + 1, t_next, x, v)
