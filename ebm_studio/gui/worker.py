"""The training worker: drives the core's step generator in a QThread.

Pause, single-step and stop are plain ``threading.Event`` flags checked between two training
steps, so they act immediately even though the worker's own Qt event loop is busy. Settings
changed in the UI arrive through a lock-protected slot and are applied before the next step.
Records are batched and emitted at most ~30 times a second, as plain Python numbers and numpy
copies (never live tensors) so the GUI thread never touches the model being trained.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.config import RunConfig
from ..core.errors import EbmStudioError

EMIT_INTERVAL = 1.0 / 30.0
SAMPLE_INTERVAL = 0.5  # live gallery refresh period (s)


class TrainingWorker(QObject):
    records = Signal(list)  # list[dict] of TrainRecord fields
    negatives = Signal(object)  # np.ndarray (N, 28, 28)
    state_changed = Signal(str)  # "running", "paused", "stopped"
    error = Signal(str)
    event = Signal(str)
    snapshot_ready = Signal(object, object)  # (model copy on CPU, RunConfig) when paused/stopped
    weights = Signal(object)  # np.ndarray (n_hidden, 784) for Boltzmann machines' receptive fields
    saved = Signal(str)
    finished = Signal()

    def __init__(self, session, budget):
        super().__init__()
        self.session = session
        self.budget = budget
        self._stop = threading.Event()
        self._run = threading.Event()  # set = running freely
        self._step_once = threading.Event()
        self._lock = threading.Lock()
        self._pending_cfg: RunConfig | None = None
        self._save_request: str | None = None
        self.steps_done = 0

    # --- thread-safe controls (called from the GUI thread) -------------------------------------
    def start_running(self) -> None:
        self._run.set()

    def pause(self) -> None:
        self._run.clear()

    def resume(self) -> None:
        self._run.set()

    def step_once(self) -> None:
        self._step_once.set()

    def stop(self) -> None:
        self._stop.set()
        self._run.set()  # wake a paused loop so it can exit

    def update_settings(self, cfg: RunConfig) -> None:
        with self._lock:
            self._pending_cfg = cfg

    def request_save(self, path: str) -> None:
        with self._lock:
            self._save_request = path

    @property
    def is_paused(self) -> bool:
        return not self._run.is_set()

    # --- the loop (runs in the worker thread) --------------------------------------------------
    @Slot()
    def run(self) -> None:
        from ..core.device import configure_threads

        configure_threads(for_gui_worker=True)
        trainer = self.session.trainer
        pending: list[dict] = []
        last_emit = last_samples = 0.0
        started = time.monotonic()
        start_epoch = trainer.step / trainer.steps_per_epoch
        paused_reported = False
        try:
            while not self._stop.is_set():
                self._apply_requests()
                if not self._run.is_set() and not self._step_once.is_set():
                    if not paused_reported:
                        self._flush(pending)
                        pending = []
                        self.state_changed.emit("paused")
                        self._emit_snapshot()
                        paused_reported = True
                    self._run.wait(0.05)
                    if not self._step_once.is_set():
                        continue
                single = self._step_once.is_set() and not self._run.is_set()
                self._step_once.clear()
                if paused_reported and not single:
                    self.state_changed.emit("running")
                    paused_reported = False
                if self.budget.exhausted(self.steps_done, trainer.step / trainer.steps_per_epoch, start_epoch, started):
                    self.event.emit("training budget reached")
                    break
                record = trainer.train_step()
                self.session.record(record)
                self.steps_done += 1
                pending.append(record.as_dict())
                if record.event:
                    self.event.emit(f"step {record.step}: {record.event}")
                now = time.monotonic()
                if single or now - last_emit >= EMIT_INTERVAL:
                    self._flush(pending)
                    pending = []
                    last_emit = now
                if single or now - last_samples >= SAMPLE_INTERVAL:
                    self._emit_negatives(trainer)
                    last_samples = now
                if single:
                    self._emit_snapshot()
                if self.session.maybe_autosave():
                    self.saved.emit(f"autosaved {self.session.run_dir}")
        except EbmStudioError as exc:
            self.error.emit(str(exc))
        except FloatingPointError as exc:
            self.error.emit(f"training diverged: {exc}")
        except Exception as exc:  # keep the app alive; show what happened
            if "out of memory" in str(exc).lower():
                self.error.emit("the device ran out of memory: lower the batch size or the number of Langevin steps")
            else:
                self.error.emit(f"training stopped by an unexpected error: {exc.__class__.__name__}: {exc}")
                traceback.print_exc()
        finally:
            self._flush(pending)
            self._apply_requests()
            self._emit_negatives(trainer)
            self._emit_snapshot()
            self.state_changed.emit("stopped")
            self.finished.emit()

    def _apply_requests(self) -> None:
        with self._lock:
            cfg, self._pending_cfg = self._pending_cfg, None
            path, self._save_request = self._save_request, None
        if cfg is not None:
            try:
                self.session.trainer.update_settings(cfg)
                self.event.emit("settings applied")
            except (EbmStudioError, ValueError) as exc:
                self.error.emit(f"settings not applied: {exc}")
        if path is not None:
            try:
                saved = self.session.save(path)
                self.saved.emit(f"saved {saved}")
            except (EbmStudioError, OSError) as exc:
                self.error.emit(f"could not save: {exc}")

    def _flush(self, pending: list[dict]) -> None:
        if pending:
            self.records.emit(list(pending))

    def _emit_negatives(self, trainer) -> None:
        neg = getattr(trainer, "negatives", None)
        if neg is not None and getattr(neg, "numel", lambda: 0)() > 0:
            self.negatives.emit(neg[:64, 0].detach().float().cpu().numpy().copy())
        if hasattr(trainer.model, "weights_image"):
            self.weights.emit(np.asarray(trainer.model.weights_image(), dtype=np.float32).copy())

    def _emit_snapshot(self) -> None:
        trainer = self.session.trainer
        model = copy.deepcopy(trainer.export_model()).cpu().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.snapshot_ready.emit(model, trainer.cfg.copy())


def to_numpy_images(x) -> np.ndarray:
    return x.detach().float().cpu().numpy().copy()
