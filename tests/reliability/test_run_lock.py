"""One writer per run: a second process training into the same run directory is refused with the
holder's pid; a killed holder leaves no stale lock (issue #24)."""

import os
import signal
import subprocess
import sys

import pytest

from ebm_studio.core.run_lock import RunLock, RunLockedError

HOLD = """
import sys, time
from ebm_studio.core.run_lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline().strip() == "held"
    yield run, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_run_and_the_holder(holder):
    run, proc = holder
    with pytest.raises(RunLockedError, match=f"process {proc.pid}") as info:
        RunLock(run).acquire()
    assert info.value.holder_pid == proc.pid and str(run) in str(info.value)


def test_a_killed_holder_releases_the_run_at_once(holder):
    run, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunLock(run) as lock:
        assert lock.held


def test_a_training_session_takes_the_lock(holder, mnist_small):
    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.session import TrainingSession

    run, _ = holder
    cfg = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [4], "train.objective": "cd"})
    with pytest.raises(RunLockedError):
        TrainingSession(cfg, run_dir=run, data=mnist_small.images[:64])


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    a = RunLock(tmp_path / "r").acquire()
    b = RunLock(tmp_path / "r").acquire()  # the studio replacing its session on the same run
    b.release()
    a.release()
    code = subprocess.run([sys.executable, "-c", HOLD.replace("time.sleep(60)", ""), str(tmp_path / "r")],
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, capture_output=True).returncode
    assert code == 0


def test_a_file_is_not_a_run_directory(tmp_path):
    from ebm_studio.core.errors import CheckpointError

    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        RunLock(tmp_path / "f").acquire()


def test_the_lock_is_shared_by_the_threads_of_one_process(tmp_path):
    """The studio builds sessions on worker threads: a new one on the same run must not be refused."""
    import threading

    held = []
    first = threading.Thread(target=lambda: held.append(RunLock(tmp_path / "r").acquire()))
    first.start()
    first.join()
    second = []
    t = threading.Thread(target=lambda: second.append(RunLock(tmp_path / "r").acquire()))
    t.start()
    t.join()
    assert second and second[0].held
    second[0].release()
    held[0].release()
    code = subprocess.run([sys.executable, "-c", HOLD.replace("time.sleep(60)", ""), str(tmp_path / "r")],
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, capture_output=True).returncode
    assert code == 0  # released for other processes once every holder let go
