"""The training worker: drives the core's step generator in a QThread.

Pause, single-step and stop are plain ``threading.Event`` flags checked between two training
steps, so they act immediately even though the worker's own Qt event loop is busy. Settings
changed in the UI, save requests and requests for a copy of the model arrive through a
lock-protected mailbox and are handled before the next step. Records are batched and emitted at
most ~30 times a second, as plain Python numbers and numpy copies (never live tensors), so the
GUI thread never touches the model being trained.

The session itself (loading the data set, building the model) is created here too when the
window hands over a factory instead of a session, so pressing Start never freezes the window.

If training fails for good (an unrecoverable divergence, the device out of memory, a bug), the
error is reported as one line and the trainer is put back to its last good state, so what is
saved afterwards is never a model full of NaNs.
"""

from __future__ import annotations

import threading
import time
import traceback

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.config import RunConfig
from ..core.errors import EbmStudioError

EMIT_INTERVAL = 1.0 / 30.0  # records reach the charts at most 30 times a second
SAMPLE_INTERVAL = 0.5  # live gallery / receptive-field refresh period (s)
LIVE_IMAGES = 64


class TrainingWorker(QObject):
    records = Signal(object)  # list[dict] of TrainRecord fields (object: no conversion to QVariant)
    negatives = Signal(object)  # np.ndarray (N, 28, 28) in [0, 1]
    weights = Signal(object)  # np.ndarray (n_hidden, 784) for Boltzmann machines' receptive fields
    state_changed = Signal(str)  # "running", "paused", "stopped"
    error = Signal(str)
    event = Signal(str)
    snapshot_ready = Signal(object, object)  # (model copy on CPU, RunConfig) when paused/stepped/stopped
    model_copy = Signal(object, object, int)  # (model copy on CPU, RunConfig, step) on request
    session_ready = Signal(object, object)  # (TrainingSession, RunConfig in force) once built / live settings set
    saved = Signal(str)
    finished = Signal()

    def __init__(self, session_or_factory, budget, live_overrides: dict | None = None):
        super().__init__()
        if callable(session_or_factory):
            self.session, self._factory = None, session_or_factory
        else:
            self.session, self._factory = session_or_factory, None
        self.budget = budget
        self._live = dict(live_overrides or {})
        self._stop = threading.Event()
        self._run = threading.Event()  # set = running freely
        self._step_once = threading.Event()
        self._lock = threading.Lock()
        self._pending_cfg: RunConfig | None = None
        self._save_request: str | None = None
        self._copy_requested = False
        self.steps_done = 0
        self.failed = False

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

    def request_model_copy(self) -> None:
        """Ask for a CPU copy of the current weights (delivered by ``model_copy``), e.g. to sample."""
        with self._lock:
            self._copy_requested = True

    @property
    def is_paused(self) -> bool:
        return not self._run.is_set()

    @property
    def is_stopping(self) -> bool:
        return self._stop.is_set()

    # --- the loop (runs in the worker thread) --------------------------------------------------
    @Slot()
    def run(self) -> None:
        from ..core.device import configure_threads
        from ..core.session import apply_budget_schedule, end_budget_schedule, has_budget_schedule

        configure_threads(for_gui_worker=True)
        trainer = None
        pending: list[dict] = []
        last_emit = last_samples = 0.0
        paused_reported = False
        try:
            trainer = self._prepare()
            started = time.monotonic()
            start_epoch = trainer.step / trainer.steps_per_epoch
            while not self._stop.is_set():
                self._apply_requests()
                if not self._run.is_set() and not self._step_once.is_set():
                    if not paused_reported:
                        self._flush(pending)
                        pending = []
                        self._emit_live(trainer)
                        self.state_changed.emit("paused")
                        self._emit_snapshot()
                        paused_reported = True
                    self._run.wait(0.05)
                    if not self._step_once.is_set():
                        continue
                if self._stop.is_set():
                    break
                single = self._step_once.is_set() and not self._run.is_set()
                self._step_once.clear()
                if paused_reported and not single:
                    self.state_changed.emit("running")
                    paused_reported = False
                if self.budget.exhausted(self.steps_done, trainer.step / trainer.steps_per_epoch, start_epoch, started):
                    self.event.emit("training budget reached")
                    break
                if has_budget_schedule(trainer.cfg):  # as TrainingSession.run: the end of a budget anneals/refines
                    spent = self.budget.progress(self.steps_done, trainer.step / trainer.steps_per_epoch,
                                                 start_epoch, started)
                    apply_budget_schedule(trainer, spent)
                record = trainer.train_step()
                self.session.record(record)
                self.steps_done += 1
                pending.append(record.as_dict())
                if record.event:
                    self.event.emit(f"step {record.step}: {record.event}")
                if trainer.guard.take_pause_request():  # train.on_divergence = "pause"
                    self.pause()
                now = time.monotonic()
                if single or now - last_emit >= EMIT_INTERVAL:
                    self._flush(pending)
                    pending = []
                    last_emit = now
                if single or now - last_samples >= SAMPLE_INTERVAL:
                    self._emit_live(trainer)
                    last_samples = now
                if single:
                    self._emit_snapshot()
                if self.session.maybe_autosave():
                    self.saved.emit(f"autosaved {self.session.run_dir}")
        except EbmStudioError as exc:
            self._fail(str(exc))
        except FloatingPointError as exc:
            self._fail(f"training diverged: {exc}")
        except Exception as exc:  # keep the app alive; show what happened
            if "out of memory" in str(exc).lower():
                self._fail("the device ran out of memory: lower the batch size or the number of sampler steps")
            else:
                traceback.print_exc()
                self._fail(f"training stopped by an unexpected error: {exc.__class__.__name__}: {exc}")
        finally:
            try:
                if trainer is not None:
                    end_budget_schedule(trainer)
                    self._flush(pending)
                    self._apply_requests()
                    self._emit_live(trainer)
                    self._emit_snapshot()
            except Exception:  # a broken state must not keep the thread from finishing
                traceback.print_exc()
            self.state_changed.emit("stopped")
            self.finished.emit()

    def _prepare(self):
        """Build the session if needed (slow: data loading) and apply the panel's live settings."""
        if self.session is None:
            self.session = self._factory()
        trainer = self.session.trainer
        if self._live:
            cfg = self.session.cfg.with_overrides(**self._live)
            if cfg != trainer.cfg:
                trainer.update_settings(cfg)
                self.session.cfg = trainer.cfg
        self.session_ready.emit(self.session, trainer.cfg.copy())
        return trainer

    def _fail(self, message: str) -> None:
        self.failed = True
        if self.session is None:
            self.error.emit(message)
            return
        restored = restore_last_good_state(self.session.trainer)
        if restored:
            message += f" (the weights of step {restored} were restored)"
        self.error.emit(message)

    def _apply_requests(self) -> None:
        with self._lock:
            cfg, self._pending_cfg = self._pending_cfg, None
            path, self._save_request = self._save_request, None
            want_copy, self._copy_requested = self._copy_requested, False
        trainer = self.session.trainer
        if cfg is not None:
            try:
                trainer.update_settings(cfg)
                self.session.cfg = trainer.cfg
                self.event.emit(f"settings applied at step {trainer.step}")
            except (EbmStudioError, ValueError) as exc:
                self.error.emit(f"settings not applied: {exc}")
        if path is not None:
            try:
                saved = self.session.save(path)
                self.saved.emit(f"saved {saved}")
            except (EbmStudioError, OSError) as exc:
                self.error.emit(f"could not save: {exc}")
        if want_copy:
            self.model_copy.emit(model_snapshot(trainer), trainer.cfg.copy(), trainer.step)

    def _flush(self, pending: list[dict]) -> None:
        if pending:
            self.records.emit(list(pending))

    def _emit_live(self, trainer) -> None:
        neg = getattr(trainer, "negatives", None)
        if neg is not None and getattr(neg, "numel", lambda: 0)() > 0:
            self.negatives.emit(neg[:LIVE_IMAGES, 0].detach().float().cpu().numpy().copy())
        weights = family_weights(trainer.model)
        if weights is not None:
            self.weights.emit(weights)

    def _emit_snapshot(self) -> None:
        trainer = self.session.trainer
        self.snapshot_ready.emit(model_snapshot(trainer), trainer.cfg.copy())


def model_snapshot(trainer):
    """A frozen CPU copy of the weights to sample from (the EMA for trainers that keep one).

    Built as a fresh model plus cloned tensors rather than ``copy.deepcopy``: deep-copying the
    live module from the worker thread hung the full test suite (both threads idle, the worker
    inside deepcopy) while the GUI thread painted.
    """
    from ..core.families import build_model

    source = trainer.export_model()
    model = build_model(trainer.cfg)
    model.load_state_dict({k: v.detach().to("cpu", copy=True) for k, v in source.state_dict().items()})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def family_weights(model) -> np.ndarray | None:
    """Receptive fields (n_hidden, 784) of a Boltzmann machine as a numpy copy; None for other models."""
    fn = getattr(model, "weights_image", None)
    if fn is None:
        return None
    w = fn()
    w = w.detach().float().cpu().numpy() if hasattr(w, "detach") else np.asarray(w, dtype=np.float32)
    return np.array(w, dtype=np.float32, copy=True)


def restore_last_good_state(trainer) -> int | None:
    """If the weights hold NaN/inf, load the divergence guard's last good snapshot; its step or None."""
    try:
        if trainer.params_finite():
            return None
        snap = getattr(trainer.guard, "snapshot", None)
        if not snap:
            return None
        trainer.model.load_state_dict(snap["model"])
        trainer.optimizer.load_state_dict(snap["optimizer"])
        trainer.restore_extra(snap["extra"])
        return int(snap["step"])
    except Exception:  # recovery is best effort; the error message is what matters
        traceback.print_exc()
        return None
