import torch

from ebm_studio.core.conv.langevin import langevin_chain, langevin_samples


def quadratic(target):
    return lambda x: ((x - target) ** 2).flatten(1).sum(1)


def test_langevin_lowers_quadratic_energy():
    g = torch.Generator().manual_seed(0)
    target = torch.full((1, 1, 28, 28), 0.3)
    x0 = torch.rand((16, 1, 28, 28), generator=g)
    energies = [st.energy.mean().item() for st in langevin_chain(quadratic(target), x0, steps=40, step_size=0.1,
                                                                    noise=0.001, grad_clip=None, generator=g)]
    assert len(energies) == 41
    assert energies[-1] < 0.05 * energies[0]


def test_langevin_respects_clamp_and_mask():
    g = torch.Generator().manual_seed(1)
    target = torch.full((1, 1, 28, 28), 2.0)  # pulls every pixel above the range
    x0 = torch.rand((4, 1, 28, 28), generator=g)
    mask = torch.zeros((1, 1, 28, 28))
    mask[..., :10, :] = 1
    last = None
    for last in langevin_chain(quadratic(target), x0, steps=30, step_size=0.2, noise=0.05, grad_clip=None, mask=mask,
                               generator=g):
        assert float(last.x.max()) <= 1.0 and float(last.x.min()) >= 0.0
    assert torch.equal(last.x[..., :10, :], x0[..., :10, :])
    assert float(last.x[..., 10:, :].mean()) > 0.95


def test_gradient_clip_bounds_each_update():
    target = torch.zeros((1, 1, 28, 28))
    x0 = torch.ones((2, 1, 28, 28))
    steps = list(langevin_chain(quadratic(target), x0, steps=1, step_size=1.0, noise=0.0, grad_clip=0.03))
    assert torch.allclose(steps[1].x, torch.full_like(x0, 0.97))


def test_convenience_calls_and_model_grads_untouched():
    from ebm_studio.core.conv.energy import ConvEnergy

    torch.manual_seed(0)
    m = ConvEnergy(width=4)
    x0 = torch.rand(3, 1, 28, 28)
    out = langevin_samples(m, x0, steps=5)
    assert out.shape == x0.shape and not torch.equal(out, x0)
    assert all(p.grad is None for p in m.parameters())
    states = [st.x.detach().clone() for st in langevin_chain(m, x0, steps=5)]
    assert len(states) == 6 and states[0].shape == x0.shape  # the initial state, then one per step
    assert torch.equal(states[0], x0)
    assert all(p.grad is None for p in m.parameters())


def test_reproducible_from_seed():
    from ebm_studio.core.conv.energy import ConvEnergy

    torch.manual_seed(0)
    m = ConvEnergy(width=4)
    x0 = torch.rand(3, 1, 28, 28)
    a = langevin_samples(m, x0, steps=5, generator=torch.Generator().manual_seed(7))
    b = langevin_samples(m, x0, steps=5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
