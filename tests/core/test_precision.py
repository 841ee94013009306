"""bfloat16 autocast: where it is chosen, and that it changes the arithmetic only slightly."""

import torch

from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.gradient import energy_and_grad
from ebm_studio.core.families import build_model, sample_chain
from ebm_studio.core.precision import autocast_dtype, bf16_is_fast
from ebm_studio.core.session import Budget, TrainingSession


def _model():
    torch.manual_seed(0)
    return build_model(RunConfig()).eval()


def test_precision_setting_resolves_per_device():
    assert autocast_dtype("fp32", "cpu") is None
    assert autocast_dtype("bf16", "cpu") is torch.bfloat16
    assert autocast_dtype("auto", "cpu") is (torch.bfloat16 if bf16_is_fast("cpu") else None)
    # files written before the setting existed keep their float32 meaning
    raw = RunConfig().to_dict()
    del raw["train"]["precision"], raw["sampler"]["precision"]
    old = RunConfig.from_dict(raw)
    assert old.train.precision == "fp32" and old.sampler.precision == "fp32"
    assert RunConfig().train.precision == "auto"


def test_bf16_energy_gradient_is_close_to_float32():
    model = _model()
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    e32, g32 = energy_and_grad(model, x, 0.3)
    e16, g16 = energy_and_grad(model, x, 0.3, torch.bfloat16)
    assert e16.dtype == torch.float32 and g16.dtype == torch.float32
    assert float((g16 - g32).norm() / g32.norm()) < 0.03
    assert not torch.equal(g16, g32)  # it really ran in reduced precision
    assert float((e16 - e32).abs().max()) < 0.03 * float(e32.abs().max()) + 1e-3


def test_sampler_precision_reaches_the_chain():
    model = _model()
    cfg = RunConfig().with_overrides(**{"sampler.levels": 10})
    x0 = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))

    def final(precision):
        c = cfg.with_overrides(**{"sampler.precision": precision})
        last = None
        for last in sample_chain(model, c, x0, generator=torch.Generator().manual_seed(2)):
            pass
        return last.x

    a, b = final("fp32"), final("bf16")
    assert not torch.equal(a, b) and float((a - b).abs().mean()) < 0.05


def test_bf16_training_step_matches_float32_loss():
    cfg = RunConfig().with_overrides(**{"data.limit": 64, "train.batch_size": 32, "train.device": "cpu"})
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        session = TrainingSession(cfg.with_overrides(**{"train.precision": precision}), autosave_minutes=0)
        losses[precision] = [r.loss for r in session.run(Budget(steps=3))]
    # the first step sees the same weights and noise: only the arithmetic differs
    assert abs(losses["bf16"][0] - losses["fp32"][0]) < 0.05 * losses["fp32"][0]
    assert all(v == v for v in losses["bf16"])  # finite (no NaN)
