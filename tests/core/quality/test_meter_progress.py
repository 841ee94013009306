"""The meter scored in chunks (a step generator for a progress bar) gives the very same report."""

import torch

from ebm_studio.core.quality import load_meter


def test_chunked_scoring_reports_progress_and_the_same_figures():
    meter = load_meter()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(70, 1, 28, 28, generator=g) ** 3  # dark noise: a spread of classes and distances
    whole = meter.evaluate(x)
    steps = list(meter.evaluate_steps(x, batch=32, chunk=16))
    done = [s.done for s in steps]
    assert len(steps) == 3 + 5  # 3 classifier batches, 5 nearest-neighbour chunks (the last carries the report)
    assert done == sorted(done) and done[-1] == steps[-1].total and done[0] < steps[-1].total
    assert all(s.result is None for s in steps[:-1])
    assert steps[-1].result == whole  # identical figures, field by field (a dataclass compares them all)


def test_closing_the_generator_stops_before_the_search():
    meter = load_meter()
    calls = []
    original = meter._nearest_chunks

    def counted(*args):
        calls.append(1)
        return original(*args)

    meter._nearest_chunks = counted
    steps = meter.evaluate_steps(torch.rand(8, 1, 28, 28), batch=4)
    next(steps)
    steps.close()  # what Cancel does between two chunks
    assert calls == []
