"""Run hostile-corpus cases against the CLI, each in its own process, and judge the outcome.

A case fails when its process prints a Python traceback, hangs past the timeout, dies by a
signal, peaks above the RSS cap, gives the wrong kind of answer (a clean error where success was
due, or success where the input was bad), or leaves a run directory that loaded before unloadable.

Each case runs in a child forked from a parent that has imported torch and the CLI once (the
import is ~2-3 s; a fork is milliseconds), so the full corpus takes minutes, not an hour. The
child gets an address-space cap (RLIMIT_AS) as a safety net; the peak resident set comes from
``os.wait4``. ``mode="spawn"`` runs a fresh interpreter per case instead (slow, no shared state).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RSS_CAP_BYTES = 2 << 30
AS_HEADROOM_BYTES = 3 << 30  # the child may map this much beyond the parent's address space
CLEAN_EXIT_CODES = (0, 2)  # success, or EbmStudioError's one-line message


@dataclass
class Case:
    id: str
    category: str
    argv: list[str]
    expect: str = "any"  # "error": exit 2; "ok": exit 0; "any": either
    run_dir: str | None = None  # must load afterwards if it loaded before
    stdin_text: str | None = None
    must_say: str | None = None  # text the output must contain (e.g. info naming a bad data source)


@dataclass
class Outcome:
    case: Case
    code: int | None
    seconds: float
    rss_bytes: int
    stderr: str
    failures: list[str] = field(default_factory=list)

    @property
    def clean_error(self) -> bool:
        return self.code == 2 and not self.failures


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _child(argv: list[str], out_path: Path, as_limit: int) -> None:
    """In the forked child: cap memory, redirect output, run the CLI, exit with its code."""
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        if argv and argv[0] == "--loadable":
            from ebm_studio.core.checkpoint import load_run

            load_run(argv[1])
            code = 0
        else:
            from ebm_studio.cli import main

            code = int(main(argv) or 0)
    except SystemExit as exc:  # argparse: 2 for a usage error
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)


def _fork_run(argv: list[str], out_path: Path, timeout: float) -> tuple[int | None, int, float, bool]:
    """(exit code or None if killed, peak RSS bytes, seconds, timed out)."""
    as_limit = _vm_size() + AS_HEADROOM_BYTES
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        _child(argv, out_path, as_limit)
    deadline = t0 + timeout
    timed_out = False
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wpid, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.02)
    seconds = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    return code, usage.ru_maxrss * 1024, seconds, timed_out


def _spawn_run(argv: list[str], out_path: Path, timeout: float) -> tuple[int | None, int, float, bool]:
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ebm_studio", *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = False
        try:
            _, status, usage = _wait4_timeout(proc.pid, timeout)
        except TimeoutError:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024, time.monotonic() - t0, timed_out


def _wait4_timeout(pid: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            return wpid, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


def loadable(run_dir: str, work: Path, mode: str = "fork") -> bool:
    out = work / f"loadable-{os.getpid()}.txt"
    runner = _fork_run if mode == "fork" else _spawn_run
    if mode == "fork":
        code, _, _, _ = runner(["--loadable", run_dir], out, 60.0)
        return code == 0
    code, _, _, _ = runner(["info", run_dir], out, 120.0)
    return code == 0


def run_case(case: Case, work: Path, timeout: float = 60.0, mode: str = "fork") -> Outcome:
    """Run one case and judge it (see the module docstring for what fails)."""
    work.mkdir(parents=True, exist_ok=True)
    before = loadable(case.run_dir, work, mode) if case.run_dir else False
    out_path = work / f"{case.id}.out"
    runner = _fork_run if mode == "fork" else _spawn_run
    code, rss, seconds, timed_out = runner(case.argv, out_path, timeout)
    text = out_path.read_bytes().decode("utf-8", "replace")
    outcome = Outcome(case, code, seconds, rss, text[-4000:])
    f = outcome.failures
    if timed_out:
        f.append(f"hang (> {timeout:.0f} s)")
    elif code is not None and code < 0:
        f.append(f"killed by signal {-code}")
    if "Traceback (most recent call last)" in text:
        f.append("traceback")
    if rss > RSS_CAP_BYTES:
        f.append(f"peak RSS {rss / 2**30:.2f} GiB")
    if not timed_out and code is not None and code >= 0:
        if code not in CLEAN_EXIT_CODES and "traceback" not in f:
            f.append(f"exit code {code}")
        if case.expect == "error" and code == 0:
            f.append("accepted a bad input (exit 0)")
        if case.expect == "ok" and code != 0:
            f.append(f"refused a good input (exit {code})")
    if case.must_say and case.must_say.lower() not in text.lower():
        f.append(f"output does not mention {case.must_say!r}")
    if before and not loadable(case.run_dir, work, mode):
        f.append("left the run directory unloadable")
    return outcome


def summarise(outcomes: list[Outcome]) -> dict:
    return {
        "inputs": len(outcomes),
        "clean_errors": sum(o.code == 2 and not o.failures for o in outcomes),
        "accepted": sum(o.code == 0 and not o.failures for o in outcomes),
        "crashes": sum(any(x == "traceback" or x.startswith(("killed", "exit code")) for x in o.failures)
                       for o in outcomes),
        "hangs": sum(any(x.startswith("hang") for x in o.failures) for o in outcomes),
        "wrong": sum(any(x.startswith(("accepted", "refused", "output does not", "left")) for x in o.failures)
                     for o in outcomes),
        "failed": sum(bool(o.failures) for o in outcomes),
        "peak_rss_mib": round(max((o.rss_bytes for o in outcomes), default=0) / 2**20),
        "seconds": round(sum(o.seconds for o in outcomes), 1),
    }
