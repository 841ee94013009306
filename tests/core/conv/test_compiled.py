"""The compiled sampler step: same chain as eager, a failure falls back to eager, and "auto" compiles
only batch jobs long enough to repay the compile."""

import pytest
import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv import compiled
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.families import build_model, draw_from_noise, sample_chain

CFG = RunConfig().with_overrides(**{"model.width": 4, "sampler.levels": 3, "sampler.precision": "fp32"})


def _final(model, cfg, x0):
    last = None
    for last in sample_chain(model, cfg, x0, generator=torch.Generator().manual_seed(0)):
        pass
    return last.x


def test_compiled_chain_equals_the_eager_one():
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    x0 = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    eager = _final(model, CFG, x0)
    fast = _final(model, CFG.with_overrides(**{"sampler.compile": "on"}), x0)
    assert torch.allclose(eager, fast, atol=1e-4)
    assert not compiled._CACHE[model].get("failed")


def test_a_failing_compile_falls_back_to_eager(monkeypatch):
    def broken(fn, **_):
        def run(*a, **k):
            raise RuntimeError("no compiler here")
        return run

    monkeypatch.setattr(compiled.torch, "compile", broken)
    torch.manual_seed(0)
    model = build_model(CFG).eval()
    x0 = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with pytest.warns(RuntimeWarning, match="continuing without compilation"):
        fast = _final(model, CFG.with_overrides(**{"sampler.compile": "on"}), x0)
    assert torch.equal(fast, _final(model, CFG, x0))
    assert compiled._CACHE[model]["failed"]


def _spy_on_compile(monkeypatch) -> list:
    """Replace torch.compile by the identity and record each function it was asked to compile."""
    calls = []

    def spy(fn, **_):
        calls.append(fn)
        return fn

    monkeypatch.setattr(compiled.torch, "compile", spy)
    return calls


def test_auto_compiles_batch_jobs_above_the_threshold_only(monkeypatch):
    calls = _spy_on_compile(monkeypatch)
    steps = CFG.sampler.total_steps()
    monkeypatch.setattr(compiled, "AUTO_MIN_IMAGE_STEPS", 8 * steps)
    model = build_model(CFG).eval()
    short = draw_from_noise(model, CFG, 4, seed=3)
    assert calls == []  # 4 chains: below the threshold, eager
    long = draw_from_noise(model, CFG, 8, seed=3, batch=4)
    assert len(calls) == 1  # one compiled function serves both batches of the job
    assert torch.allclose(long[:4], short, atol=1e-5)  # same seed, same start: the same first chains
    draw_from_noise(model, CFG.with_overrides(**{"sampler.compile": "off"}), 8, seed=3)
    assert len(calls) == 1  # "off" never compiles, however long the job
    _final(model, CFG, torch.rand(8, 1, 28, 28))  # a single chain (canvas, gallery) stays eager under "auto"
    assert len(calls) == 1


def test_compile_setting_accepts_old_booleans_and_rejects_nonsense():
    assert RunConfig.from_dict({"sampler": {"compile": True}}).sampler.compile == "on"
    assert RunConfig.from_dict({"sampler": {"compile": False}}).sampler.compile == "off"
    assert RunConfig.from_dict({"sampler": {"levels": 10}}).sampler.compile == "off"  # older files: as before
    assert RunConfig().sampler.compile == "auto"
    with pytest.raises(ConfigError, match="sampler.compile"):
        RunConfig.from_dict({"sampler": {"compile": "fast"}})
