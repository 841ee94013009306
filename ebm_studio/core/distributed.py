"""Data-parallel training under ``torchrun``: the few collectives a run needs, and nothing else.

One machine's cores or one GPU are sometimes not enough. ``torchrun --nproc_per_node=N -m
ebm_studio train ...`` starts N copies of the ordinary ``train`` command; each joins one process
group (gloo on CPU, NCCL on GPU) from the variables torchrun sets, and the rest of the studio asks
this module, never ``torch.distributed`` itself, what it needs:

* :func:`rank` / :func:`world` (0 and 1 in a plain process, where every function here is a no-op),
  so a trainer takes its share of each global batch and its own shard of the chains;
* :func:`average_gradients`: one all-reduce of every gradient, flattened, after the backward pass.
  This is what ``DistributedDataParallel`` does, done by hand because the score-matching loss
  differentiates the energy's input gradient (``create_graph``), a double backward DDP's reducer
  does not follow; with equal shards of one global batch the mean of the ranks' gradients is the
  single-process gradient, so N processes train the same model as one (``tests/core/test_ddp.py``);
* :func:`broadcast_module`: rank 0's weights and buffers to every rank (the base energy's mixture
  fit is computed once, on rank 0, and broadcast with the initial weights);
* :func:`agree`: whether any rank wants to stop or save now, so all ranks leave the loop and enter
  a save at the same step (a wall-clock budget or an autosave timer read on each rank would not);
* :func:`mean_over_ranks`: a step's loss and energies over the global batch, so every rank logs
  the same record and the divergence guard (which judges records and weights, both then equal on
  every rank) acts on all ranks alike;
* :func:`gather_shards`: every rank's chain state, to rank 0, which alone writes the checkpoint.

Tensors travel as tensors (no pickled objects), on the GPU for NCCL and on the CPU for gloo.
"""

from __future__ import annotations

import atexit
import os
import sys
from datetime import timedelta
from typing import NoReturn

import torch
import torch.distributed as dist

from .errors import ConfigError

#: Variables torchrun sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun() -> bool:
    return all(v in os.environ for v in TORCHRUN_VARIABLES)


def active() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_writer() -> bool:
    """Whether this process writes the run (rank 0, or the only process)."""
    return rank() == 0


def local_world() -> int:
    """Processes on this machine (what the cores are split between)."""
    text = os.environ.get("LOCAL_WORLD_SIZE", "")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def start(device: str = "auto", timeout_minutes: float = 30.0) -> str:
    """Join the process group torchrun describes; returns the device this rank trains on
    (``cuda:LOCAL_RANK`` with NCCL, else ``cpu`` with gloo). A clear error outside torchrun."""
    if not launched_by_torchrun():
        raise ConfigError("--ddp needs torchrun: torchrun --nproc_per_node=N -m ebm_studio train ... "
                          f"(missing {', '.join(v for v in TORCHRUN_VARIABLES if v not in os.environ)})")
    if not dist.is_available():
        raise ConfigError("this build of torch has no torch.distributed")
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device == "cuda" and not use_cuda:
        raise ConfigError("--device cuda under torchrun, but no CUDA GPU is available here")
    chosen = "cpu"
    if use_cuda:
        local = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local)
        chosen = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=timeout_minutes))
    return chosen


def stop(finished: bool = True) -> None:
    """Leave the process group. After a finished run every rank first waits for the others
    (a barrier), so no rank tears its connections down while rank 0 is still writing the
    checkpoint: gloo can abort a process whose peer vanished mid-teardown. After an error the
    barrier is skipped (the other ranks may never arrive; torchrun ends them)."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def leave(code: int) -> NoReturn:
    """End a finished rank's process now, without the interpreter's teardown.

    Leaving the process group does not join every thread gloo started; when the interpreter
    then finalises, a process can die in C++ (``terminate called without an active exception``,
    SIGABRT, no Python frame) after its run was written, and torchrun reports the whole run as
    failed. Call only after :func:`stop` with every file closed: this runs the ``atexit``
    handlers (a resumed archive's temporary folder goes), flushes the standard streams and exits
    with ``code``, skipping the finalisers."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def average_gradients(params) -> None:
    """Replace every parameter's gradient by its mean over the ranks (one flat all-reduce)."""
    if not active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads]).to(_comm_device())
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers, in place, on every rank."""
    if not active():
        return
    comm = _comm_device()
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            moved = t.data.to(comm)
            dist.broadcast(moved, src=0)
            if moved is not t.data:
                t.data.copy_(moved)


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag, true if it is true on any rank (one all-reduce of a few bytes)."""
    if not active():
        return tuple(bool(f) for f in flags)
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def mean_over_ranks(values: list[float]) -> list[float]:
    """Each value's mean over the ranks (one all-reduce of a few floats)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def gather_shards(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every rank's ``tensors`` (the same keys and shapes on each), on rank 0 as ``shard{r}.{key}``
    on the CPU; other ranks take part and get ``{}``. Without a process group: ``shard0.{key}``."""
    if not active():
        return {f"shard0.{k}": v.detach().cpu() for k, v in tensors.items()}
    comm, n, me = _comm_device(), dist.get_world_size(), dist.get_rank()
    out: dict[str, torch.Tensor] = {}
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous()
        wire = t.to(comm).view(torch.uint8) if t.dtype == torch.bool else t.to(comm)
        parts = [torch.empty_like(wire) for _ in range(n)]
        dist.all_gather(parts, wire)
        if me == 0:
            for r, part in enumerate(parts):
                out[f"shard{r}.{key}"] = part.view(t.dtype).cpu() if t.dtype == torch.bool else part.cpu()
    return out


def shard_of(tensors: dict[str, torch.Tensor], which: int) -> dict[str, torch.Tensor]:
    """The ``shard{which}.*`` entries of a gathered state, without their prefix."""
    prefix = f"shard{which}."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
