"""The GUI's training worker drives the session's one loop with next(): budget, pause, single
step, stop and errors told apart by type, without a window (a QThread, as the window runs it)."""

import pytest
import torch
from PySide6.QtCore import Qt, QThread

from ebm_studio.core.config import RunConfig
from ebm_studio.core.errors import DivergenceError
from ebm_studio.core.session import Budget, TrainingSession
from ebm_studio.gui.worker import TrainingWorker

SMALL = {"model.width": 4, "train.batch_size": 16, "sampler.levels": 3, "sampler.steps_per_level": 1,
         "train.contrast": 0.0, "model.prior_components": 1, "train.device": "cpu"}


class Driven:
    """A worker in its own QThread with every signal recorded."""

    def __init__(self, qtbot, session, budget, running=True):
        self.qtbot = qtbot
        self.worker = TrainingWorker(session, budget)
        self.thread = QThread()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # QThread.quit is thread-safe: a direct call from the worker's thread, not an event queued to
        # this one that a blocking wait() would never deliver
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.records, self.states, self.events, self.errors, self.diverged = [], [], [], [], []
        self.worker.records.connect(self.records.extend)
        self.worker.state_changed.connect(self.states.append)
        self.worker.event.connect(self.events.append)
        self.worker.error.connect(self.errors.append)
        self.worker.diverged.connect(self.diverged.append)
        if running:
            self.worker.start_running()
        self.thread.start()

    def wait_finished(self, timeout=30000):
        self.qtbot.waitUntil(lambda: "stopped" in self.states and self.thread.isFinished(), timeout=timeout)

    def shut_down(self):
        """Never let the QThread be destroyed while it runs (Qt aborts the process): stop, then join."""
        if self.thread.isRunning():
            self.worker.stop()
            self.qtbot.waitUntil(self.thread.isFinished, timeout=60000)


@pytest.fixture
def drive(qtbot):
    """Make ``Driven`` workers that are always joined, even when a test fails half-way."""
    made = []

    def make(session, budget, running=True):
        made.append(Driven(qtbot, session, budget, running))
        return made[-1]

    yield make
    for driven in made:
        driven.shut_down()


@pytest.fixture
def session(mnist_small, tmp_path):
    return TrainingSession(RunConfig().with_overrides(**SMALL), run_dir=tmp_path / "run", data=mnist_small.images,
                           autosave_minutes=0)


def test_the_worker_trains_exactly_the_budget_through_the_sessions_loop(drive, session):
    driven = drive(session, Budget(steps=5))
    driven.wait_finished()
    assert [r["step"] for r in driven.records] == [1, 2, 3, 4, 5]
    assert session.trainer.step == 5 and len(session.log.rows) == 5  # recorded by the session itself
    assert "training budget reached" in driven.events and not driven.errors


def test_pause_single_step_and_stop_act_between_two_steps(qtbot, drive, session):
    driven = drive(session, Budget(steps=1000), running=False)
    qtbot.waitUntil(lambda: driven.states[-1:] == ["paused"], timeout=20000)
    assert session.trainer.step == 0
    driven.worker.step_once()
    qtbot.waitUntil(lambda: len(driven.records) == 1, timeout=20000)
    assert session.trainer.step == 1 and driven.worker.is_paused  # one step, still paused
    driven.worker.step_once()
    qtbot.waitUntil(lambda: len(driven.records) == 2, timeout=20000)
    driven.worker.stop()
    driven.wait_finished()
    assert session.trainer.step == 2 and "training budget reached" not in driven.events


def test_a_failed_step_is_reported_by_type_with_the_guards_restore(qtbot, drive, session):
    trainer = session.trainer
    driven = drive(session, Budget(steps=100), running=False)
    driven.worker.step_once()
    qtbot.waitUntil(lambda: len(driven.records) == 1, timeout=20000)

    def explode():
        with torch.no_grad():
            for p in trainer.model.parameters():
                p.fill_(float("nan"))
        raise DivergenceError("training keeps diverging (test)")

    trainer.train_step = explode  # safe: the worker is paused between two steps
    driven.worker.step_once()
    driven.wait_finished()
    assert driven.worker.failed and len(driven.errors) == 1
    assert "keeps diverging" in driven.errors[0] and "weights of step 0 were restored" in driven.errors[0]
    assert trainer.params_finite()


def test_a_bug_is_reported_as_an_unexpected_error(drive, session):
    def bug():
        raise KeyError("out of memory")  # the words do not matter, the type does

    session.trainer.train_step = bug
    driven = drive(session, Budget(steps=3))
    driven.wait_finished()
    assert driven.errors and driven.errors[0].startswith("training stopped by an unexpected error: KeyError")


def test_running_out_of_memory_is_reported_as_such(drive, session):
    def oom():
        raise torch.cuda.OutOfMemoryError("CUDA error (test)")

    session.trainer.train_step = oom
    driven = drive(session, Budget(steps=3))
    driven.wait_finished()
    assert driven.errors and "ran out of memory" in driven.errors[0]
