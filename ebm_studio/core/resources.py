"""Where the files shipped with the package live (bundled MNIST, pretrained models, the judge)."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MNIST_DIR = RESOURCES / "mnist"
PRETRAINED_DIR = RESOURCES / "pretrained"
CLASSIFIER_DIR = RESOURCES / "classifier"


def resource_path(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)
