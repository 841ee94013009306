import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EBM_STUDIO_THREADS", "1")
os.environ.setdefault("EBM_STUDIO_CACHE_DIR", "")  # no fit cache unless a test asks (conv/prior_cache.py)

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


@pytest.fixture(autouse=True)
def _gc_in_the_gui_thread(request):
    """Tests with Qt collect cyclic garbage in the GUI thread only, as the studio does
    (ebm_studio/gui/gui_gc.py). Otherwise a worker thread that happens to cross a GC threshold can
    run the destructors of Qt wrappers left by earlier tests (a closed window's QMenu) and deadlock
    with the GUI thread: a full run once hung so in tests/gui/test_worker_loop.py."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import gc

    request.getfixturevalue("qapp")
    from ebm_studio.gui.gui_gc import GuiThreadCollector

    gc.collect()
    collector = GuiThreadCollector()
    collector.start()
    try:
        yield
    finally:
        collector.stop()
        gc.collect()
