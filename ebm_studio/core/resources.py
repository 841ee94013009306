"""Where the files shipped with the package live: bundled MNIST, pretrained models, the judge.

They sit in ``resources/`` at the repository's top level (the layout the project was designed
with), and the wheel ships that folder as the package ``ebm_studio.resources`` (pyproject's
``package-dir`` mapping), so an installed copy reads them through ``importlib.resources`` from
wherever it was installed, with no network. A source checkout run without installing
(``PYTHONPATH=.``) reads its own ``resources/`` beside the package, so a worktree never picks up
another checkout's files. A missing file is a :class:`MissingResourceError` that says the
installation is incomplete, not a bare "file not found".
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from .errors import EbmStudioError

PACKAGE = "ebm_studio.resources"


class MissingResourceError(EbmStudioError):
    """A file that ships with EBM Studio is not where the installation put it."""


def _root() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "resources"
    if (checkout.parent / "pyproject.toml").is_file() and (checkout / "__init__.py").is_file():
        return checkout  # a source checkout: its own files
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        return checkout  # neither: every lookup below reports it missing
    return Path(str(root))  # a regular package installed on disk: a real folder


RESOURCES = _root()
PRETRAINED_DIR = RESOURCES / "pretrained"
CLASSIFIER_DIR = RESOURCES / "classifier"


def require(*parts: str) -> Path:
    """The shipped file or folder ``parts`` (e.g. ``require("mnist", "t10k-images-idx3-ubyte.gz")``),
    or :class:`MissingResourceError` naming it and where it was looked for."""
    path = RESOURCES.joinpath(*parts)
    if not path.exists():
        raise MissingResourceError(f"{'/'.join(parts)}: a file shipped with EBM Studio is missing from {RESOURCES} "
                                   "(an incomplete installation: reinstall the ebm-studio package)")
    return path
