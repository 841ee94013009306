"""The optional compiled sampler step: same chain as eager, and a failure falls back to eager."""

import pytest
import torch

from ebm_studio.core import compiled
from ebm_studio.core.config import RunConfig
from ebm_studio.core.families import build_model, sample_chain

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
    fast = _final(model, CFG.with_overrides(**{"sampler.compile": True}), x0)
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
        fast = _final(model, CFG.with_overrides(**{"sampler.compile": True}), x0)
    assert torch.equal(fast, _final(model, CFG, x0))
    assert compiled._CACHE[model]["failed"]
