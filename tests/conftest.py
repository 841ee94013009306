import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EBM_STUDIO_THREADS", "1")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_small():
    from ebm_studio.core.data import load_mnist

    return load_mnist("train", limit=512)


@pytest.fixture
def poison_next_step():
    """A function that makes a trainer's next step leave NaN weights, as a blown-up update would
    (once: the step after is healthy again)."""

    def poison(trainer):
        original = trainer._step

        def poisoned(batch):
            out = original(batch)
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
            trainer._step = original
            return out

        trainer._step = poisoned

    return poison
