"""The sampling fast path must give the same chain as the plain one, and restore the model."""

import torch

from ebm_studio.core.accel import sampling_mode
from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.conv.langevin import langevin_samples


def test_fast_path_equals_plain_path(monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_CHANNELS_LAST", "1")
    torch.manual_seed(0)
    model = ConvEnergy(width=8)
    x0 = torch.rand(4, 1, 28, 28)
    fast = langevin_samples(model, x0, steps=15, step_size=0.01, noise=0.01, grad_clip=None,
                            generator=torch.Generator().manual_seed(3))
    monkeypatch.setenv("EBM_STUDIO_CHANNELS_LAST", "0")
    plain = langevin_samples(lambda x: model(x), x0, steps=15, step_size=0.01, noise=0.01, grad_clip=None,
                             generator=torch.Generator().manual_seed(3))
    assert torch.allclose(fast, plain, atol=1e-5)


def test_sampling_mode_restores_parameters(monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_CHANNELS_LAST", "1")
    model = ConvEnergy(width=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    conv = model.features[0]
    with sampling_mode(model):
        assert not any(p.requires_grad for p in model.parameters())
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(p.requires_grad for p in model.parameters())
    assert conv.weight.is_contiguous()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_abandoned_chain_restores_the_model():
    from ebm_studio.core.conv.langevin import langevin_chain

    model = ConvEnergy(width=4)
    chain = langevin_chain(model, torch.rand(2, 1, 28, 28), steps=100)
    next(chain)
    next(chain)
    assert not next(model.parameters()).requires_grad
    chain.close()
    assert next(model.parameters()).requires_grad
