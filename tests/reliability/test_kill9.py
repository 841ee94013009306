"""Never lose a run: ``kill -9`` of ``ebm-studio train`` at random instants, and inside each file's
save, always leaves a run that opens (``info``) and resumes (``train --resume``), losing at most
one autosave interval of steps; a second Ctrl-C during the final save waits for it.

The child is the real CLI, with test-only instrumentation put in from outside (no hook in the
product): it prints every step, every completed checkpoint and every file rename with a
timestamp, and each rename of a save sleeps a little, so a kill can land between the write of a
file's temporary copy and its rename, for every file of a save.
"""

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

AUTOSAVE_SECONDS = 1.5
SMALL = ["--width", "4", "--prior-components", "1", "--limit", "256", "--batch-size", "16", "--device", "cpu",
         "--seed", "0", "--set", "sampler.levels=3", "--set", "sampler.steps_per_level=1", "--set", "train.contrast=0"]
RUN_FILES = ("config.toml", "model.safetensors", "trainer.safetensors", "metrics.csv")

CHILD = textwrap.dedent("""
    import os, sys, time
    delay = float(os.environ["KILL9_RENAME_DELAY"])
    real_replace = os.replace

    def slow_replace(src, dst, *a, **k):
        name = os.path.basename(str(dst))
        print(f"RENAME {name} {time.monotonic():.4f}", flush=True)
        time.sleep(delay)
        return real_replace(src, dst, *a, **k)

    os.replace = slow_replace
    from ebm_studio.core import session
    real_record, real_save = session.TrainingSession.record, session.TrainingSession.save

    def record(self, r):
        real_record(self, r)
        print(f"STEP {r.step} {time.monotonic():.4f}", flush=True)

    def save(self, *a, **k):
        out = real_save(self, *a, **k)
        print(f"CHECKPOINT {self.trainer.step} {time.monotonic():.4f}", flush=True)
        return out

    session.TrainingSession.record, session.TrainingSession.save = record, save
    from ebm_studio.cli import main
    sys.exit(main(sys.argv[1:]))
""")

def env(delay: float = 0.25) -> dict:
    e = dict(os.environ, KILL9_RENAME_DELAY=str(delay), OMP_NUM_THREADS="1", EBM_STUDIO_THREADS="1")
    e["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + e.get("PYTHONPATH", "")
    return e


class Child:
    def __init__(self, run: Path, *extra: str, delay: float = 0.25, autosave: float = AUTOSAVE_SECONDS):
        argv = ["train", "--out", str(run), "--steps", "100000", "--autosave-minutes", str(autosave / 60), *SMALL,
                *extra]
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, *argv], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env(delay))
        self.started = time.monotonic()
        self.lines: list[str] = []

    def read_until(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"child ended before {pattern!r}: {self.proc.stderr.read()[-2000:]}")
            self.lines.append(line.strip())
            if re.match(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} within {timeout} s")

    def kill(self) -> float:
        t = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        out, _ = self.proc.communicate(timeout=30)
        self.lines += [x.strip() for x in out.splitlines() if x.startswith(("STEP", "CHECKPOINT", "RENAME"))]
        return t

    def events(self, kind: str, before: float) -> list[tuple[int, float]]:
        out = []
        for line in self.lines:
            parts = line.split()
            if parts and parts[0] == kind and float(parts[2]) <= before:
                out.append((int(parts[1]), float(parts[2])))
        return out


def check_run(run: Path, child: Child, killed_at: float) -> str:
    """Open and resume the killed run; the steps lost fit in one autosave interval."""
    from ebm_studio.cli import main

    has_config, has_model = (run / "config.toml").exists(), (run / "model.safetensors").exists()
    results = {}
    commands = (("INFO", ["info", str(run)]), ("RESUME", ["train", "--resume", "--out", str(run), "--steps", "1"]))
    for name, argv in commands:
        err = io.StringIO()  # in this process: an exception here (a traceback) fails the test
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            results[name] = (main(argv), err.getvalue())
    if not has_config:  # killed before the first second's config: nothing to lose, a clear message
        assert results["RESUME"][0] == 2 and "nothing to resume" in results["RESUME"][1]
        return "before config"
    assert results["RESUME"][0] == 0, results["RESUME"][1]  # resumes, at every instant with a config
    if has_model:
        assert results["INFO"][0] == 0, results["INFO"][1]  # and opens
    else:
        assert results["INFO"][0] == 2 and "no weights saved yet" in results["INFO"][1]
    resumed_from = int(re.search(r"from step (\d+)", results["RESUME"][1]).group(1))
    steps = child.events("STEP", killed_at)
    last_step = steps[-1][0] if steps else 0
    saved = [s for s, _ in child.events("CHECKPOINT", killed_at)]
    assert resumed_from >= (saved[-1] if saved else 0)  # nothing saved is lost
    # steps lost: only those of the last autosave interval (plus the save in progress)
    window_start = killed_at - AUTOSAVE_SECONDS - 2 * (4 * 0.25 + 0.5)
    recent = [s for s, t in steps if t >= window_start]
    assert last_step - resumed_from <= len(recent), (last_step, resumed_from, len(recent))
    return "ok"


def test_kill9_at_random_instants_and_inside_every_files_save_leaves_a_run_that_opens_and_resumes(tmp_path):
    rng = random.Random(20261201)
    plans = [("launch", rng.uniform(0.1, 1.5)) for _ in range(2)]  # from the launch: maybe before any file
    plans += [("time", rng.uniform(0.0, 6.0)) for _ in range(8)]  # after the config: data, fit, steps, saves
    plans += [("rename", name, 1) for name in RUN_FILES]  # inside each file's save of the first checkpoint
    plans += [("rename", name, 2) for name in RUN_FILES]  # ... and of the first autosave
    plans += [("after_step", rng.randint(3, 40)) for _ in range(6)]  # mid-training, at random steps
    outcomes = []
    for i, plan in enumerate(plans):
        run = tmp_path / f"run{i}"
        child = Child(run)
        if plan[0] == "launch":
            time.sleep(plan[1])
        elif plan[0] == "time":
            while not (run / "config.toml").exists():
                time.sleep(0.01)
            time.sleep(plan[1])
        elif plan[0] == "rename":
            for _ in range(plan[2]):
                child.read_until(rf"RENAME {re.escape(plan[1])} ")
        else:
            child.read_until(rf"STEP {plan[1]} ")
        killed_at = child.kill()
        outcomes.append((plan, check_run(run, child, killed_at)))
    # every instant passed check_run; at least 20 of them after the run had begun (its config written:
    # the kills from launch and inside the very first config write come before it)
    assert sum(o == "ok" for _, o in outcomes) >= 20, outcomes


def test_a_second_and_third_ctrl_c_during_the_final_save_wait_for_it(tmp_path):
    run = tmp_path / "run"
    child = Child(run, delay=1.0, autosave=0.0)  # autosave off: the only save is the final one
    child.read_until(r"STEP 5 ")
    child.proc.send_signal(signal.SIGINT)  # stop after this step
    child.read_until(r"RENAME ")  # the final save has begun (each rename takes a second)
    child.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    child.proc.send_signal(signal.SIGTERM)
    out, err = child.proc.communicate(timeout=120)
    assert child.proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "stopped: saved" in err
    lines = child.lines + out.splitlines()
    last_step = max(int(x.split()[1]) for x in lines if x.startswith("STEP"))
    checkpoint = [int(x.split()[1]) for x in lines if x.startswith("CHECKPOINT")]
    assert checkpoint == [last_step]  # the save finished, at the last step trained
    from ebm_studio.core.checkpoint import load_run

    saved = load_run(run, with_trainer_state=True)
    assert saved.trainer_problem is None and saved.trainer_meta["step"] == last_step
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
