"""TensorBoard event files for a run, beside its metrics.csv: what people already read.

``EventLog(run_dir)`` writes ``run_dir/tensorboard/events.out.tfevents.*``: the scalars of every
training record (loss, gradient norm, the energies of data and samples, learning rate, wall time
of a step, and the running count of divergence events, each event also as text) and, on request,
a grid of samples. ``tensorboard --logdir RUN`` shows them.

The writer is tensorboardX: a small pure-Python package (protobuf + numpy) that writes the event
format without TensorFlow or the ``tensorboard`` server installed, so the optional extra
``pip install "ebm-studio[tensorboard]"`` stays light. Without it (or with ``enabled=False``)
every method is a no-op, so a caller never needs to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

EVENTS_DIR = "tensorboard"
#: Record fields written as scalars, and their TensorBoard tags.
SCALARS = {
    "loss": "train/loss",
    "grad_norm": "train/grad_norm",
    "e_data": "energy/data",
    "e_samples": "energy/samples",
    "lr": "train/learning_rate",
    "seconds": "train/seconds_per_step",
}
EVENTS_TAG = "train/divergence_events"


def writer_available() -> bool:
    """Whether the optional writer (tensorboardX) is installed."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return False
    return True


class EventLog:
    """``log_records(list_of_record_dicts)``, ``log_images(tag, images, step)``, ``flush()``, ``close()``."""

    def __init__(self, run_dir: str | os.PathLike | None, enabled: bool = True, images_every: int = 1000,
                 flush_secs: int = 30):
        """``images_every``: steps between two sample grids (``image_due``; 0 = never)."""
        self.images_every = images_every
        self.events = 0
        self._writer = None
        if not enabled or run_dir is None or not writer_available():
            return
        from tensorboardX import SummaryWriter

        logdir = Path(run_dir) / EVENTS_DIR
        # tensorboardX names a file by the second it opened it: a resumed run within the same second would
        # overwrite the first run's log, so each file also carries its place among the run's files
        earlier = len(list(logdir.glob("events.out.tfevents.*"))) if logdir.is_dir() else 0
        self._writer = SummaryWriter(logdir=str(logdir), flush_secs=flush_secs, filename_suffix=f".{earlier:04d}")

    @property
    def enabled(self) -> bool:
        return self._writer is not None

    def log_records(self, records: Iterable[dict[str, Any]]) -> None:
        if self._writer is None:
            return
        for r in records:
            step = int(r["step"])
            for key, tag in SCALARS.items():
                value = r.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(tag, float(value), step)
            if r.get("event"):
                self.events += 1
                self._writer.add_scalar(EVENTS_TAG, self.events, step)
                self._writer.add_text("train/events", str(r["event"]), step)

    def image_due(self, step: int) -> bool:
        """Whether a sample grid is due at this step (so a caller draws samples only then)."""
        return self._writer is not None and self.images_every > 0 and step % self.images_every == 0

    def log_images(self, tag: str, images, step: int) -> None:
        """``images``: (N, [1,] 28, 28) in [0, 1] (tensor or array), written as one grid."""
        if self._writer is None:
            return
        from .export import tile_grid

        self._writer.add_image(tag, tile_grid(images, pad=2), int(step), dataformats="HW")

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
