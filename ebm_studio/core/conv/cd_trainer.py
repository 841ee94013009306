"""Contrastive divergence for the conv energy (``train.objective = "cd"``), with negatives from the
data (CD), noise, or a replay buffer (PCD, the UvA tutorial 8 / Du & Mordatch 2019 recipe).

Every draw of the chains is from ``chain_generator`` (the trainer's one generator in a single process;
under torchrun each rank's own stream, and its own shard of the buffer)."""

from __future__ import annotations

import torch
from torch import nn

from ..config import RunConfig
from ..precision import autocast, autocast_dtype
from ..trainer import StepTrainer
from .energy import build_conv_energy
from .langevin import langevin_samples, uniform_noise


class ConvEBMTrainer(StepTrainer):
    """Contrastive divergence for the convolutional energy, negatives by Langevin dynamics.

    loss = mean E(data) - mean E(samples) + alpha * mean(E(data)^2 + E(samples)^2): lowering the
    energy of data and raising that of the model's own samples; the regulariser keeps energies
    near zero so they cannot drift to infinity together (the seed's ``reg_param``).
    """

    build_model = staticmethod(build_conv_energy)
    chain_state_keys = ("buffer",)  # under torchrun each rank holds its shard of the replay buffer

    def __init__(self, cfg: RunConfig, data: torch.Tensor, model: nn.Module | None = None,
                 device: torch.device | str | None = None):
        super().__init__(cfg, data, model, device)
        self.buffer = uniform_noise(self.shard_size(self.cfg.train.buffer_size), self.chain_generator, self.device)
        self.negatives = torch.empty(0, 1, 28, 28, device=self.device)

    @property
    def langevin_negatives(self) -> bool:
        """Negatives are the model's own Langevin samples (the divergence guard may cool their step)."""
        return self.cfg.train.objective == "cd" and self.cfg.train.negatives != "data"

    def _initial_negatives(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = self.cfg.train
        n = batch.shape[0]
        if t.negatives == "data":
            return batch.clone(), None
        if t.negatives == "noise":
            return uniform_noise(n, self.chain_generator, self.device), None
        if self.buffer.shape[0] != self.shard_size(t.buffer_size):  # buffer resized mid-run
            self.buffer = uniform_noise(self.shard_size(t.buffer_size), self.chain_generator, self.device)
        idx = torch.randint(0, self.buffer.shape[0], (n,), generator=self.chain_generator, device=self.device)
        x = self.buffer.index_select(0, idx)
        reinit = torch.rand(n, generator=self.chain_generator, device=self.device) < t.reinit_prob
        x = torch.where(reinit.view(-1, 1, 1, 1), uniform_noise(n, self.chain_generator, self.device), x)
        return x, idx

    def _sample_negatives(self, x0: torch.Tensor) -> torch.Tensor:
        s = self.cfg.sampler
        params = list(self.model.parameters())
        flags = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            return langevin_samples(self.model, x0, steps=s.steps, step_size=s.step_size, noise=s.noise,
                                    grad_clip=s.grad_clip or None, generator=self.chain_generator,
                                    precision=autocast_dtype(self.cfg.train.precision, self.device))
        finally:
            for p, f in zip(params, flags):
                p.requires_grad_(f)

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        t = self.cfg.train
        pos = batch
        if t.data_noise > 0:
            noise = torch.randn(pos.shape, generator=self.chain_generator, device=self.device)
            pos = (pos + t.data_noise * noise).clamp(0, 1)
        x0, idx = self._initial_negatives(batch)
        neg = self._sample_negatives(x0)
        if idx is not None:
            self.buffer.index_copy_(0, idx, neg)
        self.negatives = neg
        with autocast(self.device, autocast_dtype(t.precision, self.device)):
            energies = self.model(torch.cat([pos, neg])).float()
        e_pos, e_neg = energies[: pos.shape[0]], energies[pos.shape[0]:]
        loss = e_pos.mean() - e_neg.mean() + t.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        grad_norm = self.backward_and_step(loss)
        return {
            "loss": float(loss.detach()),
            "grad_norm": float(grad_norm),
            "e_data": float(e_pos.detach().mean()),
            "e_samples": float(e_neg.detach().mean()),
        }

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {"buffer": self.buffer.clone()}

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        if "buffer" in extra:
            self.buffer = extra["buffer"].to(self.device).clone()

    def sample(self, n: int, steps: int | None = None, x0: torch.Tensor | None = None, **overrides) -> torch.Tensor:
        """Fresh samples from uniform noise (or ``x0``) with the run's Langevin settings."""
        s = self.cfg.sampler
        kwargs = dict(steps=s.steps if steps is None else steps, step_size=s.step_size, noise=s.noise,
                      grad_clip=s.grad_clip or None, generator=self.chain_generator,
                      precision=autocast_dtype(s.precision, self.device))
        kwargs.update(overrides)
        x0 = uniform_noise(n, self.chain_generator, self.device) if x0 is None else x0.to(self.device)
        return langevin_samples(self.model, x0, **kwargs)
