"""Conditional flow matching (rectified flow), the energy model's closest rival among the baselines.

Lipman et al. (2023), "Flow matching for generative modeling", and Liu et al. (2022), "Flow
straight and fast" (rectified flow). A pixel image x in [0, 1] becomes x1 = 2x − 1; with
z ~ N(0, I) and t ~ U(0, 1), x_t = (1 − t)·z + t·x1 runs on a straight line from noise to the
image, and a net v(x_t, t) (the U-Net of ``unet.py``) is fitted by mean squared error to that
line's velocity x1 − z. The minimiser is the conditional mean E[x1 − z | x_t], whose flow carries
N(0, I) to the data; a sample integrates dx/dt = v(x, t) from z at t = 0 to t = 1 (``ode.py``:
Heun by default, Euler available, ``sampler.method``; ``sampler.solver_steps`` steps), then maps
back to [0, 1] and clamps. ``sampler.temperature`` scales z as it scales the other baselines'
latent (1 = the model).

Why it is here: like the noise-conditional energy, it learns by regression on noised data (no
chain while training, no partition function) and samples by a few-step ODE from noise; unlike
it, the net outputs the velocity itself instead of the gradient of one scalar. Trained on the
same data, budget and meter, it shows what the energy's extra structure costs and buys.

What stands in for an energy (every record and view asks for one; neither is a likelihood):

- :meth:`FlowMatching.energy` (charts, the canvas's read-out, grid labels): the flow-matching
  loss of x at mid-path, t = 1/2, against one fixed noise image, i.e. how badly the net restores
  x from an even mix of it and noise (lower: more like its data). Deterministic, and one net
  evaluation an image like the other baselines' energies: the canvas ranks a drawing among a
  thousand test digits on the GUI thread, where an average over many times would stall it.
- a sampler state's energy (:func:`flow_chain`): the mean squared velocity the solver evaluated
  at it, how fast the path is still moving; free, since the solver computes it anyway.

Its record says ``has_chain=False``, as for the other baselines: the studio's chains start from
any image (a drawing, ``--init``) and run for as many steps as the canvas asks, while this ODE
starts only from the noise it was trained to carry and ends at t = 1. Its path is still yielded
state by state (progress and Cancel between steps; ``ebm-studio chain`` films it).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from ..chain import ChainStep
from ..errors import ConfigError
from .ode import integrate
from .unet import VelocityUNet

ENERGY_TIME = 0.5  # where on the path the stand-in energy measures the restoring error
ENERGY_SEED = 0  # the fixed noise image it mixes in
MAX_STEPS = 10_000  # as sampler.solver_steps allows


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """A state in [-1, 1] space as an image in [0, 1] (clamped)."""
    return ((x + 1.0) * 0.5).clamp(0.0, 1.0)


class FlowMatching(nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        self.net = VelocityUNet(width)

    def velocity(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """v(x, t) for states ``x`` (N, 1, 28, 28) at times ``t`` (a number or (N,))."""
        t = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1).expand(x.shape[0])
        return self.net(x, t)

    def loss_at(self, x1: torch.Tensor, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-image flow-matching loss (mean over pixels) of targets ``x1`` in [-1, 1], noise ``z``, times ``t``."""
        tt = t.reshape(-1, 1, 1, 1)
        v = self.velocity((1.0 - tt) * z + tt * x1, t)
        return (v - (x1 - z)).pow(2).mean((1, 2, 3))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The training loss of images ``x`` in [0, 1]: fresh noise and uniform times."""
        z = torch.randn(x.shape, generator=generator, device=x.device)
        t = torch.rand((x.shape[0],), generator=generator, device=x.device)
        return self.loss_at(2.0 * x - 1.0, z, t).mean()

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """The stand-in energy (N,) of images ``x`` in [0, 1] (see the module's docstring)."""
        g = torch.Generator(device=x.device).manual_seed(ENERGY_SEED)
        z = torch.randn((1, *x.shape[1:]), generator=g, device=x.device).expand_as(x)
        t = torch.full((x.shape[0],), ENERGY_TIME, device=x.device)
        return self.loss_at(2.0 * x.clamp(0, 1) - 1.0, z, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0, steps: int = 20,
               method: str = "heun", device=None) -> torch.Tensor:
        """``n`` images (N, 1, 28, 28) in [0, 1]: the ODE from z ~ N(0, temperature²·I)."""
        device = device or next(self.parameters()).device
        z = temperature * torch.randn((n, 1, 28, 28), generator=generator, device=device)
        last = None
        for last in integrate(self.velocity, z, steps, method):
            pass
        return to_pixels(last.x)


def build_flow_matching(cfg) -> FlowMatching:
    """The flow-matching model of ``model.width`` (the U-Net's channels at full resolution)."""
    return FlowMatching(width=cfg.model.width)


@torch.no_grad()
def flow_chain(model: FlowMatching, cfg, x0: torch.Tensor, steps=None, mask=None, generator=None, settings=None,
               compile=None) -> Iterator[ChainStep]:
    """The family's sampler: the ODE from z ~ N(0, T²·I) (T = ``sampler.temperature``), one
    :class:`ChainStep` a state, ``steps`` (default ``sampler.solver_steps``) + 1 of them, solved by
    ``sampler.method``. ``x0`` gives only the batch's size and device (the path starts at noise); a
    mask, live settings and ``compile`` mean nothing to it."""
    s = cfg.sampler
    n = s.solver_steps if steps is None else steps
    if not isinstance(n, int) or not 1 <= n <= MAX_STEPS:
        raise ConfigError(f"flow matching takes 1 to {MAX_STEPS} solver steps, got {n!r}")
    z = s.temperature * torch.randn(x0.shape, generator=generator, device=x0.device)
    for st in integrate(model.velocity, z, n, s.method):
        yield ChainStep(st.step, to_pixels(st.x), st.velocity.pow(2).mean((1, 2, 3)))
