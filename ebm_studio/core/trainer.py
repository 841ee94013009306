"""Training as a step generator: one ``yield`` per optimisation step.

The GUI's worker thread, the CLI and the tests all iterate the same generator, so pause, resume,
single-step and stop cost nothing extra: they simply happen between two ``next()`` calls.

:class:`StepTrainer` holds what every model family shares: a reproducible batch order (a fresh
permutation per epoch, derived from the seed, so resuming needs no saved order), the random
generator for sampling noise, settings that may change mid-run, divergence recovery (a non-finite
loss or gradient restores the last good state and halves the learning rate) and (de)serialising
its state as plain tensors for safetensors. Each family's trainer (in its package) subclasses it
and says how to build its model (:meth:`StepTrainer.build_model`) and what one step does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from . import distributed
from .config import RunConfig
from .device import resolve_device
from .divergence import DivergenceGuard
from .errors import CheckpointError, ConfigError, OutOfMemory


def phase(name: str):
    """A named part of a training step, for ``benchmarks/step_time.py``'s profile (torch.profiler's
    ``record_function``: nearly free while no profiler runs)."""
    return torch.profiler.record_function(f"step: {name}")


@dataclass
class TrainRecord:
    step: int  # optimisation steps completed
    epoch: float  # passes over the training set
    loss: float
    grad_norm: float  # L2 norm of the parameter gradient (the seed's print_grad)
    e_data: float  # mean energy of the data batch
    e_samples: float  # mean energy of the negative samples
    seconds: float  # wall time of this step
    lr: float
    event: str | None = None  # e.g. divergence recovered

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


CSV_FIELDS = ["step", "epoch", "loss", "grad_norm", "e_data", "e_samples", "seconds", "lr", "event"]


class StepTrainer:
    """Shared machinery; subclasses implement :meth:`_step` on one data batch."""

    langevin_negatives = False  # whether negatives are Langevin samples of the model (conv CD)
    #: keys of :meth:`extra_state` that are this process's own chains (under torchrun each rank holds a
    #: shard of them, and the checkpoint holds every rank's: core/distributed.py)
    chain_state_keys: tuple[str, ...] = ()

    def __init__(self, cfg: RunConfig, data: torch.Tensor, model: nn.Module | None = None,
                 device: torch.device | str | None = None):
        self.cfg = cfg.copy().validate()
        self.device = torch.device(device) if device is not None else resolve_device(self.cfg.train.device)
        if data.ndim != 4 or data.shape[1:] != (1, 28, 28):
            raise ValueError(f"training data must have shape (N, 1, 28, 28), got {tuple(data.shape)}")
        self.data = data.to(self.device, torch.float32)
        self.n_data = self.data.shape[0]
        # data parallel (torchrun): this process trains on its rows of every global batch
        self.rank, self.world = distributed.rank(), distributed.world()
        if self.world > 1 and self.batch_size % self.world:
            raise ConfigError(f"train.batch_size {self.batch_size} does not split evenly over {self.world} processes")
        torch.manual_seed(self.cfg.train.seed)
        self.model = (model if model is not None else self.build_model(self.cfg)).to(self.device)
        self.generator = torch.Generator(device=self.device)  # the same stream on every rank
        self.generator.manual_seed(self.cfg.train.seed)
        self.chain_generator = self.generator  # this rank's own chains: a stream of its own under torchrun
        if self.world > 1:
            self.chain_generator = torch.Generator(device=self.device)
            self.chain_generator.manual_seed(self.cfg.train.seed * 1_000_003 + 7919 * (self.rank + 1))
        self.optimizer = self._make_optimizer()
        self.step = 0
        self.lr_scale = 1.0  # the session's annealing factor: the optimizer runs at cfg.train.lr * lr_scale
        self.refining = False  # the session's flag: in the contrastive phase of a budget (train.contrast_phase)
        self.guard = DivergenceGuard()
        self._perm: torch.Tensor | None = None
        self._perm_epoch = -1

    @staticmethod
    def build_model(cfg: RunConfig) -> nn.Module:
        """A fresh model of the family the trainer trains, as ``cfg`` describes it."""
        raise NotImplementedError

    # --- settings -----------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return min(self.cfg.train.batch_size, self.n_data)

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.n_data // self.batch_size)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        params = [p for p in self.model.parameters() if p.requires_grad]
        if t.optimizer == "sgd":
            return torch.optim.SGD(params, lr=t.lr, momentum=t.beta1, weight_decay=t.weight_decay)
        return torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)

    def update_settings(self, cfg: RunConfig) -> None:
        """Apply changed settings; they take effect at the next step (learning rate, sampler, alpha...)."""
        cfg = cfg.copy().validate()
        if cfg.model != self.cfg.model:
            raise ValueError("the model architecture cannot change during a run")
        self.cfg = cfg
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.train.lr * self.lr_scale
            if "betas" in group:
                group["betas"] = (cfg.train.beta1, cfg.train.beta2)
            group["weight_decay"] = cfg.train.weight_decay

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # --- data ---------------------------------------------------------------------------------
    def _batch(self) -> torch.Tensor:
        epoch, pos = divmod(self.step, self.steps_per_epoch)
        if epoch != self._perm_epoch:
            g = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n_data, generator=g).to(self.device)
            self._perm_epoch = epoch
        idx = self._perm[pos * self.batch_size : (pos + 1) * self.batch_size]
        return self.data.index_select(0, self.mine(idx))

    def mine(self, rows: torch.Tensor) -> torch.Tensor:
        """This rank's equal share of ``rows`` drawn for the whole global batch (all of them in one
        process): random draws made this way are the single-process ones, split."""
        if self.world == 1:
            return rows
        share = rows.shape[0] // self.world
        return rows[self.rank * share:(self.rank + 1) * share]

    def batch_noise(self, batch: torch.Tensor) -> torch.Tensor:
        """Standard normal noise shaped like ``batch``, from the shared stream: drawn for the global
        batch and split under torchrun, so one process draws the numbers it always drew."""
        n = batch.shape[0] * self.world
        return self.mine(torch.randn((n, *batch.shape[1:]), generator=self.generator, device=self.device))

    def shard_size(self, n: int) -> int:
        """This rank's share of ``n`` chains (at least one)."""
        return max(1, n // self.world)

    @property
    def unannealed_lr(self) -> float:
        """The rate :meth:`set_lr` speaks of: the configured one, before the session's annealing."""
        return self.cfg.train.lr

    def set_lr(self, lr: float) -> None:
        """Set the base learning rate (what the config says); the optimizer runs at lr * lr_scale."""
        self.cfg.train.lr = lr
        self.set_lr_scale(self.lr_scale)

    def set_lr_scale(self, scale: float) -> None:
        """Scale the base learning rate, e.g. while a budgeted run anneals it (``train.lr_anneal``)."""
        self.lr_scale = float(scale)
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.train.lr * self.lr_scale

    # --- stepping -----------------------------------------------------------------------------
    def train_step(self) -> TrainRecord:
        with phase("divergence guard"):
            self.guard.before_step(self)
        t0 = time.perf_counter()
        self.model.train()
        stats, oom_event = self._step_shrinking_on_oom()
        if self.world > 1:  # the global batch's figures on every rank: one record, one guard verdict
            keys = [k for k in ("loss", "e_data", "e_samples") if k in stats]
            stats.update(zip(keys, distributed.mean_over_ranks([float(stats[k]) for k in keys])))
        self.step += 1
        record = TrainRecord(
            step=self.step,
            epoch=self.step / self.steps_per_epoch,
            seconds=time.perf_counter() - t0,
            lr=self.lr,
            **stats,
        )
        if oom_event:
            record.event = f"{oom_event}; {record.event}" if record.event else oom_event
        with phase("divergence guard"):
            self.guard.after_step(self, record)
        return record

    def _step_shrinking_on_oom(self) -> tuple[dict[str, float], str | None]:
        """One ``_step``; if the device runs out of memory, halve the batch and retry (down to 1)."""
        halved_from = None
        while True:
            try:
                with phase("batch"):
                    batch = self._batch()
                return self._step(batch), (None if halved_from is None else
                        f"the device ran out of memory; batch size halved from {halved_from} to {self.batch_size}")
            except (torch.cuda.OutOfMemoryError, MemoryError, RuntimeError) as exc:
                if not (isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError))
                        or "can't allocate memory" in str(exc)):  # the CPU allocator's RuntimeError
                    raise
                if self.batch_size <= 1:
                    raise OutOfMemory("the device ran out of memory even with a batch of 1 image") from None
            self.optimizer.zero_grad(set_to_none=True)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            halved_from = halved_from or self.batch_size
            self.cfg.train.batch_size = max(1, self.batch_size // 2)

    def steps(self, max_steps: int | None = None) -> Iterator[TrainRecord]:
        """Yield one record per step until ``max_steps`` more steps are done (forever if None)."""
        done = 0
        while max_steps is None or done < max_steps:
            yield self.train_step()
            done += 1

    def _step(self, batch: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError

    def backward_and_step(self, loss: torch.Tensor, inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Backpropagate ``loss`` (into ``inputs`` only, if given), clip the gradient norm to
        ``train.max_grad_norm`` (0 = no clip) and step the optimizer unless the norm is non-finite
        (the divergence guard then restores the last good state). Returns the norm."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=inputs)
        distributed.average_gradients(self.model.parameters())  # under torchrun: the global batch's gradient
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.max_grad_norm or float("inf"))
        if torch.isfinite(norm):
            self.optimizer.step()
        return norm

    def export_model(self) -> nn.Module:
        """The weights to save and sample from (an average of the weights for some trainers)."""
        return self.model

    def params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    #: The largest |parameter| a sound model of the family has; beyond it the divergence guard calls
    #: the run diverged even while its energies still look plausible (inf: no such bound).
    max_weight: float = math.inf

    def weight_scale(self) -> float:
        """The largest |parameter| of the model (what :attr:`max_weight` bounds)."""
        return max((float(p.detach().abs().max()) for p in self.model.parameters() if p.numel()), default=0.0)

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Family-specific state beyond weights and optimizer (e.g. the replay buffer)."""
        return {}

    def restore_extra(self, extra: dict[str, torch.Tensor]) -> None:
        pass

    @property
    def recoveries(self) -> int:
        return self.guard.recoveries

    # --- sampling -----------------------------------------------------------------------------
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # --- state for checkpoints ----------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Optimizer moments, RNG state and family extras, as a flat dict of tensors."""
        out: dict[str, torch.Tensor] = {"rng": self.generator.get_state()}
        for pid, st in self.optimizer.state_dict()["state"].items():
            for name, value in st.items():
                t = value if torch.is_tensor(value) else torch.tensor(value)
                out[f"optim.{pid}.{name}"] = t.detach().cpu().contiguous()
        extra = self.extra_state()
        if self.world > 1:  # every rank's own chains and their random stream, gathered on rank 0
            chains = {k: extra.pop(k) for k in self.chain_state_keys if k in extra}
            chains["rng"] = self.chain_generator.get_state()
            out.update(distributed.gather_shards(chains))
        for k, v in extra.items():
            out[f"extra.{k}"] = v.detach().cpu().contiguous()
        return out

    def state_meta(self) -> dict[str, Any]:
        sd = self.optimizer.state_dict()
        meta = {"step": self.step, "recoveries": self.recoveries, "param_groups": sd["param_groups"],
                "base_lr": self.cfg.train.lr}
        if self.world > 1:
            meta["world"] = self.world
        return meta

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Inverse of :meth:`state_tensors` / :meth:`state_meta` (validated by the checkpoint loader)."""
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        sd = {"state": state, "param_groups": meta["param_groups"]}
        self.optimizer.load_state_dict(sd)
        extra = {k[len("extra."):]: v.to(self.device) for k, v in tensors.items() if k.startswith("extra.")}
        saved_world = meta.get("world", 1)
        if saved_world != self.world:
            how = f"torchrun --nproc_per_node={saved_world}" if saved_world != 1 else "one process (no torchrun)"
            raise CheckpointError(f"the run was trained by {saved_world} process(es) and is resumed by {self.world}: "
                                  f"each holds its own chains; resume it with {how}")
        chain_rng = None
        if self.world > 1:
            own = distributed.shard_of(tensors, self.rank)
            if "rng" not in own:
                raise CheckpointError(f"the trainer state holds no chains of rank {self.rank}")
            chain_rng = own.pop("rng")
            extra.update({k: v.to(self.device) for k, v in own.items()})
        self.restore_extra(extra)
        # the random streams last: restoring the extras may build chains, which draws from them
        if "rng" in tensors:
            self.generator.set_state(tensors["rng"].to(torch.uint8).cpu())
        if chain_rng is not None:
            self.chain_generator.set_state(chain_rng.to(torch.uint8).cpu())
        self.step = int(meta["step"])
        self.guard.recoveries = int(meta.get("recoveries", 0))
        self.set_lr_scale(1.0)  # a run saved while annealing resumes at its base rate, not the annealed one
        self.set_lr(float(meta.get("base_lr", self.lr)))
