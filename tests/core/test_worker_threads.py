"""The studio worker's thread count: every core when OpenMP waits passively, else one for the GUI."""

import pytest
import torch

from ebm_studio.core import device


@pytest.fixture
def four_cores(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("EBM_STUDIO_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    yield
    torch.set_num_threads(before)


def test_with_passive_openmp_the_gui_worker_uses_every_core(monkeypatch, four_cores):
    monkeypatch.setattr(device, "OPENMP_WAITS_PASSIVELY", True)
    assert device.configure_threads(for_gui_worker=True) == 4


def test_with_spinning_openmp_the_gui_worker_leaves_a_core_to_the_gui(monkeypatch, four_cores):
    monkeypatch.setattr(device, "OPENMP_WAITS_PASSIVELY", False)
    assert device.configure_threads(for_gui_worker=True) == 3


def test_the_studio_entry_point_sets_the_wait_policy_before_torch_loads():
    import subprocess
    import sys

    # run_app must set the policy before it imports the window (which imports torch)
    code = ("import os, sys, types\n"
            "os.environ.pop('OMP_WAIT_POLICY', None)\n"
            "seen = {}\n"
            "def launch(argv):\n"
            "    seen['policy'] = os.environ.get('OMP_WAIT_POLICY')\n"
            "    return 0\n"
            "sys.modules['ebm_studio.gui.main_window'] = types.SimpleNamespace(launch=launch)\n"
            "from ebm_studio.app import run_app\n"
            "run_app([])\n"
            "assert 'torch' not in sys.modules, 'torch loaded before the policy was set'\n"
            "print(seen['policy'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PASSIVE"
