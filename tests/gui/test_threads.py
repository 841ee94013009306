"""Thread settings: the user's limits (EBM_STUDIO_THREADS, then OMP_NUM_THREADS) are obeyed."""

import pytest
import torch

from ebm_studio.core.device import configure_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_omp_num_threads_limits_torch_when_the_project_variable_is_unset(monkeypatch, restore_threads):
    monkeypatch.delenv("EBM_STUDIO_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(2)
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_the_project_variable_wins_over_omp_num_threads(monkeypatch, restore_threads):
    monkeypatch.setenv("EBM_STUDIO_THREADS", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert configure_threads() == 2
    assert torch.get_num_threads() == 2


def test_without_limits_the_gui_worker_leaves_a_core_to_the_gui(monkeypatch, restore_threads):
    monkeypatch.delenv("EBM_STUDIO_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert configure_threads(for_gui_worker=True) == 3
    assert configure_threads() == 4
