"""A finished torchrun rank ends by ``distributed.leave``: its exit code, its buffered output and
its ``atexit`` handlers survive skipping the interpreter's teardown (where gloo's threads can
abort a process whose run was already written)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import atexit
from ebm_studio.core import distributed
atexit.register(print, "handler ran")
print("buffered", end=" ")
class Finaliser:
    def __del__(self):
        print("finaliser ran")
keep = Finaliser()
distributed.leave(3)
print("never")
"""


def test_leave_exits_with_the_code_after_flushing_and_the_atexit_handlers():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stdout == "buffered handler ran\n"  # flushed, handlers run, no finaliser, nothing after
