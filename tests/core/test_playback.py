"""ChainPlayer (Qt-free): stepping, recording, reproducibility, clamping; energy percentiles."""

import numpy as np
import torch
from toy_energies import TemplateEnergy

from ebm_studio.core.config import RunConfig
from ebm_studio.core.playback import ChainPlayer, PlaybackSettings


def conv_cfg():
    return RunConfig().with_overrides(**{"sampler.schedule": "constant", "sampler.grad_clip": 0.0})


def settings(**kw):
    base = dict(total_steps=12, step_size=0.05, noise=0.02, grad_clip=0.0, record_every=5)
    base.update(kw)
    return PlaybackSettings(**base)


def seed_image(seed=0):
    return np.random.default_rng(seed).random((28, 28)).astype(np.float32)


def test_steps_record_trace_and_frames_then_stop():
    p = ChainPlayer(TemplateEnergy(), conv_cfg(), seed_image(), n_chains=3, settings=settings())
    assert p.energy_trace().shape == (1, 3) and p.step_index == 0
    n = 0
    while p.step():
        n += 1
    assert n == 12 and p.done and p.step_index == 12
    assert not p.step() and p.step_index == 12  # nothing happens past the end
    assert p.energy_trace().shape == (13, 3)
    # frames at steps 0, 5, 10 and the final state (12), each with all chains
    frames = p.frames_array()
    assert frames.shape == (4, 3, 28, 28)
    assert np.array_equal(frames[0, 0], seed_image()) and np.array_equal(frames[-1], p.current)


def test_energy_falls_and_chains_spread():
    p = ChainPlayer(TemplateEnergy(), conv_cfg(), seed_image(), n_chains=4, settings=settings(total_steps=40))
    while p.step():
        pass
    trace = p.energy_trace()
    assert trace[-1].mean() < 0.3 * trace[0].mean()
    assert not np.allclose(p.current[0], p.current[1])  # different noise per chain


def test_same_seed_same_chain_and_reset_restarts():
    a = ChainPlayer(TemplateEnergy(), conv_cfg(), seed_image(), n_chains=2, seed=7, settings=settings())
    b = ChainPlayer(TemplateEnergy(), conv_cfg(), seed_image(), n_chains=2, seed=7, settings=settings())
    for _ in range(6):
        a.step(), b.step()
    assert np.array_equal(a.current, b.current)
    first = a.energy_trace().copy()
    a.reset()
    assert a.step_index == 0 and len(a.energies) == 1 and len(a.frames) == 1
    assert np.array_equal(a.current[0], seed_image())
    for _ in range(6):
        a.step()
    assert np.array_equal(a.energy_trace(), first)


def test_settings_change_between_steps():
    p = ChainPlayer(TemplateEnergy(), conv_cfg(), seed_image(), n_chains=3, settings=settings(total_steps=50))
    p.step()
    assert not np.allclose(p.current[0], p.current[1])
    p.settings = settings(total_steps=50, noise=0.0, step_size=0.0)  # frozen: no drift, no noise
    before = p.current.copy()
    for _ in range(3):
        p.step()
    assert np.array_equal(p.current, before)
    p.settings = settings(total_steps=4)  # shortening the run ends it at once
    assert p.done and not p.step()


def test_mask_clamps_pixels_langevin():
    mask = np.zeros((28, 28), bool)
    mask[:, :6] = True
    img = seed_image()
    p = ChainPlayer(TemplateEnergy(), conv_cfg(), img, n_chains=3, mask=mask, settings=settings(total_steps=20))
    while p.step():
        pass
    assert np.array_equal(p.current[:, mask], np.broadcast_to(img[mask], p.current[:, mask].shape))
    assert not np.allclose(p.current[:, ~mask], img[~mask])


def test_boltzmann_machine_plays_gibbs_sweeps_with_clamping():
    from ebm_studio.core.families import build_model

    cfg = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [16]})
    torch.manual_seed(0)
    model = build_model(cfg)
    mask = np.zeros((28, 28), bool)
    mask[10:18, 10:18] = True
    img = (seed_image() > 0.5).astype(np.float32)
    p = ChainPlayer(model, cfg, img, n_chains=2, mask=mask, settings=settings(total_steps=5, record_every=1))
    while p.step():
        pass
    assert p.energy_trace().shape == (6, 2) and p.frames_array().shape == (6, 2, 28, 28)
    assert np.array_equal(p.current[:, mask], np.broadcast_to(img[mask], p.current[:, mask].shape))
    assert np.isfinite(p.energy_trace()).all()


def test_energy_percentile_ranks_against_test_digits():
    from ebm_studio.core.landscape import energy_percentile, reference_energies

    model = TemplateEnergy()
    ref = reference_energies(model, n=200)
    assert ref.shape == (200,) and np.all(np.diff(ref) >= 0)
    assert reference_energies(model, n=200) is ref  # cached per model
    best = model.template[0, 0].numpy()  # energy 0: below every real digit
    worst = 1.0 - best  # the bar inverted: farther from the template than any digit
    pct = energy_percentile(model, np.stack([best, worst]), n_reference=200)
    assert pct[0] == 100.0 and pct[1] == 0.0
    mid = energy_percentile(model, [np.full((28, 28), 0.0, np.float32), np.full((28, 28), 0.5, np.float32)],
                            n_reference=200)
    # a blank image is closer to the bar than a grey one, but it is no digit: never ranked digit-like
    assert mid[0] == 0.0 and model(torch.zeros(1, 1, 28, 28)).item() < model(torch.full((1, 1, 28, 28), 0.5)).item()
    faint = energy_percentile(model, np.stack([best, 0.5 * best + 0.5 * worst]), n_reference=200)
    assert faint[0] >= faint[1]  # the ranking still follows the energy for images with ink


class _LevelledTemplate(torch.nn.Module):
    """E(x, sigma) = |x - t|^2 per image, remembering the levels it was asked at."""

    uses_sigma = True

    def __init__(self, template):
        super().__init__()
        self.t = template
        self.levels = []

    def forward(self, x, sigma=None):
        self.levels.append(sigma)
        return ((x - self.t) ** 2).flatten(1).sum(1)


def test_lowest_energy_keeps_each_images_likeliest_completion_at_the_compare_level():
    from ebm_studio.core.landscape import COMPARE_LEVEL, lowest_energy

    t = torch.zeros(1, 1, 28, 28)
    t[..., 10:18, 12:16] = 1.0
    model = _LevelledTemplate(t)
    rng = np.random.default_rng(0)
    n, k = 5, 4
    candidates = rng.uniform(0, 1, (n, k, 28, 28)).astype(np.float32)
    near = rng.integers(0, k, n)  # one candidate of each image lies close to the template
    for i, j in enumerate(near):
        candidates[i, j] = t[0, 0].numpy() + 0.01 * rng.standard_normal((28, 28)).astype(np.float32)
    cfg = RunConfig().with_overrides(**{"sampler.sigma_min": 0.02, "sampler.sigma_max": 1.0})
    picked = lowest_energy(model, cfg, candidates)
    assert picked.shape == (n, 28, 28)
    assert np.array_equal(picked, candidates[np.arange(n), near])
    assert set(model.levels) == {COMPARE_LEVEL}
    model.levels.clear()  # a ladder that ends above the compare level: compared at its finest level
    lowest_energy(model, RunConfig().with_overrides(**{"sampler.sigma_min": 0.3, "sampler.sigma_max": 1.0}),
                  candidates)
    assert set(model.levels) == {0.3}
