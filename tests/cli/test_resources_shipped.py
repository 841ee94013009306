"""The shipped files: found through the package, listed in the wheel, a clear error when gone."""

import tomllib
from pathlib import Path

import pytest

from ebm_studio.core import resources
from ebm_studio.core.errors import EbmStudioError

REPO = Path(__file__).resolve().parents[2]


def test_every_shipped_file_is_in_the_wheel_patterns():
    """package-data must name every file of resources/ (else the wheel silently lacks it)."""
    from fnmatch import fnmatch

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "ebm_studio.resources"]
    root = REPO / "resources"
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    unshipped = [f for f in files if f != "__init__.py" and not any(fnmatch(f, pat) for pat in patterns)]
    assert files and not unshipped


def test_require_finds_shipped_files_and_names_a_missing_one(monkeypatch, tmp_path):
    assert resources.require("mnist", "t10k-images-idx3-ubyte.gz").stat().st_size > 1_000_000
    monkeypatch.setattr(resources, "RESOURCES", tmp_path)
    with pytest.raises(EbmStudioError, match="mnist/t10k-images-idx3-ubyte.gz.*reinstall"):
        resources.require("mnist", "t10k-images-idx3-ubyte.gz")
