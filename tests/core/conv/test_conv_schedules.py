"""One sigma ladder and one ancestral step, shared by the batch sampler and the chain pool."""

import math

import torch

from ebm_studio.core import config
from ebm_studio.core.conv.chain_pool import ChainPool
from ebm_studio.core.conv.energy import ACTIVATIONS
from ebm_studio.core.conv.schedules import ancestral_schedule, ancestral_step, corrector_step, sigma_ladder


def test_sigma_ladder_is_geometric_from_max_to_min():
    ladder = sigma_ladder(1.0, 0.01, 5)
    assert ladder[0] == 1.0 and math.isclose(ladder[-1], 0.01)
    ratios = [b / a for a, b in zip(ladder, ladder[1:])]
    assert all(math.isclose(r, ratios[0]) for r in ratios) and ratios[0] < 1
    assert sigma_ladder(1.0, 0.01, 1) == [1.0]


def test_ancestral_step_is_the_same_for_numbers_and_tensors():
    s, nxt = 0.5, 0.3
    step, noise = ancestral_step(s, nxt)
    assert math.isclose(step, (s * s - nxt * nxt) / s) and math.isclose(noise, nxt * math.sqrt(s * s - nxt * nxt) / s)
    t_step, t_noise = ancestral_step(torch.tensor([s]), torch.tensor([nxt]))
    assert math.isclose(float(t_step), step, rel_tol=1e-6) and math.isclose(float(t_noise), noise, rel_tol=1e-6)
    step, noise = ancestral_step(0.2, 0.0)  # the last step: Tweedie's denoising, no noise
    assert math.isclose(step, 0.2) and noise == 0.0


def test_schedule_and_pool_walk_the_same_ladder():
    sched = ancestral_schedule(1.0, 0.02, 6, corrector=1, snr=0.2)
    levels = sorted({sig for _, _, sig in sched[1:]}, reverse=True)
    pool = ChainPool(1.0, 0.02, 6, 1, 0.2, 4, lambda n: torch.zeros(n, 1, 28, 28), torch.Generator())
    assert torch.allclose(pool.sigmas, torch.tensor(levels))
    corrector = [st for st in sched[1:] if st[:2] == corrector_step(st[2], 0.2)]
    assert len(corrector) == 6 and len(sched) == 1 + 6 * 2


def test_conv_activations_are_the_configs_choices():
    assert tuple(ACTIVATIONS) == config.ACTIVATIONS
