"""Only the package list lives here (the rest is pyproject.toml): every package under ebm_studio/,
plus the top-level resources/ folder installed as ebm_studio.resources. pyproject.toml alone
cannot say both (``packages.find`` sees folders only, and ``packages`` is a fixed list that a new
subpackage would silently fall out of)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["ebm_studio", "ebm_studio.*"]), "ebm_studio.resources"])
