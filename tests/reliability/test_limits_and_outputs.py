"""Sizes have bounds, output paths are checked before the work, values are checked where they
enter (issue #24)."""

import numpy as np
import pytest
import torch

import ebm_studio.core.families  # noqa: F401  (registers every family's size estimate, as every front end does)
from ebm_studio.core.config import PARAMETER_ESTIMATES, RunConfig
from ebm_studio.core.errors import ConfigError, DivergenceError
from ebm_studio.core.limits import MAX_GRID_CELLS, check_grid, check_seed
from ebm_studio.core.output_paths import check_output_path
from ebm_studio.core.values import check_finite_samples, data_source_problem


def test_grid_of_a_million_cells_is_refused():
    with pytest.raises(ConfigError, match="cells"):
        check_grid(1000, 1000)
    assert check_grid(8, 8) == (8, 8) and 64 * 64 <= MAX_GRID_CELLS


def test_seed_bounds():
    with pytest.raises(ConfigError):
        check_seed(10**14 * 10**6)
    assert check_seed(2**32 - 1) == 2**32 - 1


@pytest.mark.parametrize("family,hidden", [("vae", [100_000]), ("flow", [20_000]), ("dbm", [100_000, 100_000])])
def test_models_too_big_to_train_are_refused_in_the_config(family, hidden):
    with pytest.raises(ConfigError, match="parameters"):
        RunConfig().with_overrides(**{"model.family": family, "model.hidden": hidden})


def test_the_estimate_bounds_the_real_parameter_count():
    from ebm_studio.core.families import build_model

    for family, hidden in [("rbm", [300]), ("dbm", [200, 100]), ("vae", [400]), ("flow", [256])]:
        cfg = RunConfig().with_overrides(**{"model.family": family, "model.hidden": hidden})
        real = sum(p.numel() for p in build_model(cfg).parameters())
        assert real <= PARAMETER_ESTIMATES[family](cfg.model) <= 3 * real


def test_output_path_checks(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "x.png").mkdir()
    with pytest.raises(ConfigError, match="is a file"):
        check_output_path(tmp_path / "file", "dir")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_path(tmp_path / "file" / "run", "dir")
    with pytest.raises(ConfigError, match="is a folder"):
        check_output_path(tmp_path / "x.png", "file", (".png", ".npy"))
    with pytest.raises(ConfigError, match="must end in"):
        check_output_path(tmp_path / "x.txt", "file", (".png", ".npy"))
    assert check_output_path(tmp_path / "new" / "deeper" / "run", "dir")
    assert check_output_path(tmp_path / "ok.npy", "file", (".npy",))


def test_non_finite_samples_are_a_divergence_error():
    x = np.zeros((4, 28, 28), np.float32)
    x[2, 3, 3] = np.nan
    with pytest.raises(DivergenceError, match="1 of 4"):
        check_finite_samples(x)
    assert check_finite_samples(torch.zeros(2, 1, 28, 28)) is not None


def test_data_source_problems_are_described(tmp_path):
    assert data_source_problem("mnist") is None
    assert "not an IDX" in data_source_problem("/etc/passwd")
    assert "not found" in data_source_problem(str(tmp_path / "missing"))
    assert "no MNIST IDX" in data_source_problem(str(tmp_path))
    assert "not a regular" in data_source_problem("/dev/zero")
