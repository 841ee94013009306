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
