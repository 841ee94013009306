"""The training worker: a thin generator worker over the session's one training loop.

:meth:`TrainingSession.steps <ebm_studio.core.session.TrainingSession.steps>` is the loop (budget,
schedule, records, autosave, divergence policy, recovery); this worker only drives it with
``next()`` in a QThread, the shape of superqt's / napari's ``GeneratorWorker``. Pause, single
step and stop are ``threading.Event`` flags checked between two ``next()`` calls, so they act
at once although the worker's own Qt event loop is busy; a pause also stops the budget's clock.
Settings changed in the UI, save requests and requests for a copy of the model arrive through a
lock-protected mailbox and are handled between two steps. Records are batched and emitted at
most ~30 times a second, as plain Python numbers and numpy copies (never live tensors), so the
GUI thread never touches the model being trained.

The session itself (loading the data set, building the model) is created here too when the
window hands over a factory instead of a session, so pressing Start never freezes the window.

Errors are told apart by type only: an :class:`EbmStudioError` (an unrecoverable divergence,
the device out of memory, a bad setting) is reported as its one line; anything else is a bug,
reported with its traceback. Either way the session has already put broken weights back to the
divergence guard's last good state, so what is saved afterwards is never a model full of NaNs.
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import closing

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from ..core.config import RunConfig
from ..core.errors import EbmStudioError
from ..core.session import SessionStep, TrainingClock

EMIT_INTERVAL = 1.0 / 30.0  # records reach the charts at most 30 times a second
SAMPLE_INTERVAL = 0.5  # live gallery / receptive-field refresh period (s)
LIVE_IMAGES = 64


class TrainingWorker(QObject):
    records = Signal(object)  # list[dict] of TrainRecord fields (object: no conversion to QVariant)
    negatives = Signal(object)  # np.ndarray (N, 28, 28) in [0, 1]
    weights = Signal(object)  # np.ndarray (n_hidden, 784) for Boltzmann machines' receptive fields
    state_changed = Signal(str)  # "running", "paused", "stopped"
    error = Signal(str)
    event = Signal(str)  # every step's event ("step N: ..."), divergences included
    diverged = Signal(str)  # the same text, only for steps the divergence guard acted on
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
        self._clock = TrainingClock()  # the budget's clock: stands still while paused
        self._records: list[dict] = []
        self._last_emit = self._last_live = 0.0
        self._paused_reported = False
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

    # --- the driver (runs in the worker thread) ------------------------------------------------
    @Slot()
    def run(self) -> None:
        from ..core.device import configure_threads

        configure_threads(for_gui_worker=True)
        try:
            session = self._prepare()
            with closing(session.steps(self.budget, should_stop=self._stop.is_set, clock=self._clock)) as steps:
                self._drive(steps)
        except EbmStudioError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a bug: keep the app alive, show what happened
            traceback.print_exc()
            self._fail(f"training stopped by an unexpected error: {exc.__class__.__name__}: {exc}")
        finally:
            try:
                if self.session is not None:
                    self._flush()
                    self._apply_requests()
                    self._emit_live()
                    self._emit_snapshot()
            except Exception:  # a broken state must not keep the thread from finishing
                traceback.print_exc()
            self.state_changed.emit("stopped")
            self.finished.emit()

    def _drive(self, steps) -> None:
        """``next()`` the session's loop until it ends or Stop; pauses and requests in between."""
        while True:
            self._apply_requests()
            single = self._wait_while_paused()
            if self._stop.is_set():
                return
            self._clock.resume()
            try:
                step = next(steps)
            except StopIteration:
                if not self._stop.is_set():
                    self.event.emit("training budget reached")
                return
            if single:
                self._clock.pause()
            self._publish(step, single)
            if step.pause_requested:  # train.on_divergence = "pause": the guard restored the state
                self.pause()

    def _wait_while_paused(self) -> bool:
        """Return at once while running; when paused, report it once and wait for Resume, Step or
        Stop. True when exactly one step is wanted."""
        if not self._run.is_set() and not self._step_once.is_set() and not self._stop.is_set():
            if not self._paused_reported:
                self._clock.pause()
                self._flush()
                self._emit_live()
                self.state_changed.emit("paused")
                self._emit_snapshot()
                self._paused_reported = True
            while not (self._run.is_set() or self._step_once.is_set()):
                self._run.wait(0.05)
                self._apply_requests()
        single = self._step_once.is_set() and not self._run.is_set()
        self._step_once.clear()
        if self._paused_reported and not single and not self._stop.is_set():
            self.state_changed.emit("running")
            self._paused_reported = False
        return single

    def _publish(self, step: SessionStep, single: bool) -> None:
        record = step.record
        self.steps_done += 1
        self._records.append(record.as_dict())
        if record.event:
            text = f"step {record.step}: {record.event}"
            self.event.emit(text)
            if step.diverged:
                self.diverged.emit(text)
        if step.saved is not None:
            self.saved.emit(f"autosaved {step.saved}")
        now = time.monotonic()
        if single or now - self._last_emit >= EMIT_INTERVAL:
            self._flush()
            self._last_emit = now
        if single or now - self._last_live >= SAMPLE_INTERVAL:
            self._emit_live()
            self._last_live = now
        if single:
            self._emit_snapshot()

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
        return self.session

    def _fail(self, message: str) -> None:
        self.failed = True
        restored = self.session.restored_step if self.session is not None else None
        if restored is not None:
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

    def _flush(self) -> None:
        if self._records:
            self.records.emit(self._records)
            self._records = []

    def _emit_live(self) -> None:
        trainer = self.session.trainer
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
