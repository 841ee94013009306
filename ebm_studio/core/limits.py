"""Bounds on every size a user can ask for, in one place.

Each is far above what the studio's own recipes use and far below what would exhaust a laptop
(memory or patience): a request past one is refused before any work starts, with a
:class:`ConfigError` naming the option, instead of a 13 GiB allocation or a run that never ends.
"""

from __future__ import annotations

from .errors import ConfigError

MAX_SEED = 2**32 - 1  # seeds are mixed into torch seeds (x 1_000_003 + epoch), which must fit in 63 bits
MAX_SAMPLES = 200_000  # sample / evaluate --n: 200k digits are 630 MB of float32
MAX_GRID_CELLS = 64 * 64  # sample --grid: a 64x64 grid at scale 2 is a 3584-pixel-square PNG
MAX_CHAINS = 1024  # chain --n: every kept frame holds all chains
MAX_CHAIN_FRAMES = 20_000  # chain: frames kept (steps / --every)
MAX_AIS_BETAS = 1_000_000  # evaluate --ais-betas (default 10 000)
MAX_PARAMETERS = 50_000_000  # a model of 50M float32 parameters trains in ~1 GB (weights, grads, Adam moments)


def check_count(name: str, value: int, limit: int, low: int = 1) -> int:
    """``value`` if ``low <= value <= limit``, else a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= limit:
        raise ConfigError(f"{name} must be between {low} and {limit}, got {value}")
    return value


def check_seed(value: int, name: str = "seed") -> int:
    return check_count(name, value, MAX_SEED, low=0)


def check_grid(rows: int, cols: int, name: str = "--grid") -> tuple[int, int]:
    if rows < 1 or cols < 1 or rows * cols > MAX_GRID_CELLS:
        raise ConfigError(f"{name} {rows}x{cols}: at most {MAX_GRID_CELLS} cells (e.g. 64x64)")
    return rows, cols


def estimated_parameters(model) -> int:
    """An upper-bound estimate of a :class:`ModelConfig`'s parameter count, from its sizes alone."""
    h = [int(x) for x in (model.hidden or [0])]
    if model.family in ("rbm", "hopfield", "sparse-rbm"):
        return 784 * h[0] + h[0] + 784
    if model.family == "dbm":
        h2 = h[1] if len(h) > 1 else h[0]
        return 784 * h[0] + h[0] * h2 + h[0] + h2 + 784
    if model.family == "vae":
        return 2 * (784 * h[0] + h[0] * h[0] + 2 * h[0] * model.latent) + 4 * h[0]
    if model.family == "flow":
        return model.coupling_layers * (784 * h[0] + h[0] * h[0] + 2 * 784 * h[0] + 4 * h[0] + 784)
    return 0  # conv: bounded by model.width (<= 512)


def check_model_size(model) -> None:
    """Refuse a :class:`ModelConfig` whose model would not fit in memory to train."""
    n = estimated_parameters(model)
    if n > MAX_PARAMETERS:
        raise ConfigError(f"model.hidden {model.hidden}: a {model.family} of that size has ~{n / 1e6:.0f}M parameters; "
                          f"at most {MAX_PARAMETERS // 1_000_000}M are allowed")
