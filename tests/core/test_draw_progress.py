"""Batch sampling as a step generator: progress that only grows, ends at its total, and the same
images as the plain call; closing the generator early stops the work (how Cancel works)."""

import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.families import build_model, draw_from_noise, draw_from_noise_steps


def _rbm():
    cfg = RunConfig().with_overrides(**{"model.family": "rbm", "sampler.steps": 7})
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


def test_progress_grows_to_total_and_last_record_holds_the_images():
    model, cfg = _rbm()
    records = list(draw_from_noise_steps(model, cfg, 5, seed=2, batch=2))
    done = [r.done for r in records]
    assert done == sorted(done) and done[-1] == records[-1].total
    assert all(r.result is None for r in records[:-1])
    assert records[-1].result.shape == (5, 1, 28, 28)
    assert torch.equal(records[-1].result, draw_from_noise(model, cfg, 5, seed=2, batch=2))


def test_closing_early_stops_before_the_total():
    model, cfg = _rbm()
    steps = draw_from_noise_steps(model, cfg, 6, batch=2)
    first = next(steps)
    steps.close()
    assert first.done < first.total and first.result is None
