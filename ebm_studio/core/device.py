"""Choosing the compute device and thread count.

``auto`` picks CUDA when present, else CPU; asking for ``cuda`` on a machine without it is a
clear :class:`DeviceError`, not a crash deep inside torch.

Threads of the studio's worker: OpenMP threads that spin-wait between parallel regions fight the
GUI thread for the cores (a 2-thread worker beside a busy GUI slowed ~4x). The studio therefore
asks OpenMP to wait passively (``OMP_WAIT_POLICY=PASSIVE``, set by :func:`ebm_studio.app.run_app`
before torch loads OpenMP: it is read once, when the library loads, so setting it later does
nothing). Sleeping threads leave a core to the GUI the moment it needs one, so the worker can use
every core and train at the CLI's pace. Where the policy was not in force when torch loaded (a
test process, an embedding application), the worker keeps one core for the GUI instead.
"""

from __future__ import annotations

import os

import torch

from .errors import DeviceError

# True when OpenMP's threads sleep between parallel regions: torch has loaded OpenMP by now (this
# module imports it first), and the library reads the variable once, when it loads.
OPENMP_WAITS_PASSIVELY = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # a broken driver install should read as "no CUDA", not crash
        return False


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if cuda_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not cuda_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available here; use --device cpu or auto")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"invalid device {name!r}") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"{name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    raise DeviceError(f"unknown device {name!r}; choose auto, cpu or cuda")


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        try:
            return f"cuda ({torch.cuda.get_device_name(dev)})"
        except Exception:
            return "cuda"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'' if n == 1 else 's'})"


def configure_threads(for_gui_worker: bool = False) -> int:
    """Set torch's intra-op threads; returns the number chosen. ``EBM_STUDIO_THREADS`` overrides,
    then the standard ``OMP_NUM_THREADS`` (a user who limits OpenMP expects the limit to hold: a
    2-thread job beside another one on a 2-core machine runs ~4x slower)."""
    env = os.environ.get("EBM_STUDIO_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        n = int(env)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        n = max(1, cores - 1) if for_gui_worker and not OPENMP_WAITS_PASSIVELY else max(1, cores)
        local = os.environ.get("LOCAL_WORLD_SIZE", "")  # torchrun: the processes on this machine share its cores
        if local.isdigit() and int(local) > 1:
            n = max(1, cores // int(local))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
