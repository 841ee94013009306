"""The few-step samplers: the sigma ladders, the ancestral step's eta, and the solvers against the
exact answer of a Gaussian energy, whose probability-flow ODE is known in closed form."""

import math

import pytest
import torch
from torch import nn

from ebm_studio.core.chain import drain
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.langevin import langevin_chain
from ebm_studio.core.conv.schedules import ancestral_schedule, ancestral_step, fast_pc_schedule, sigma_ladder
from ebm_studio.core.conv.solvers import SOLVERS, solver_chain
from ebm_studio.core.errors import ConfigError

MU, C = 0.5, 0.1  # data ~ N(MU, C^2 I): at noise level s the noised data is N(MU, (C^2 + s^2) I)


class GaussianEnergy(nn.Module):
    """s * E(x, s) of the noised Gaussian data, in the conv energy's scale convention."""

    uses_sigma = True

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, sigma=None):
        self.calls += 1
        s = torch.as_tensor(0.02 if sigma is None else sigma, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        e = ((x - MU) ** 2 / (2 * (C**2 + s**2))).flatten(1).sum(1)
        return s.flatten() * e


def exact_end(x_start, sigma_max, sigma_min=0.02):
    """Where the solvers should take x: the probability-flow ODE from sigma_max to sigma_min scales
    the distance to MU by sqrt((C^2 + sigma_min^2) / (C^2 + sigma_max^2)); the last step to 0 is
    Tweedie's denoiser, a factor C^2 / (C^2 + sigma_min^2)."""
    ode = math.sqrt((C**2 + sigma_min**2) / (C**2 + sigma_max**2))
    return MU + (x_start - MU) * ode * C**2 / (C**2 + sigma_min**2)


def run(method, steps, n=512, seed=0, sigma_max=1.0):
    g = torch.Generator().manual_seed(seed)
    x0 = MU + C * torch.randn((n, 1, 4, 4), generator=g)
    sigmas = sigma_ladder(sigma_max, 0.02, steps, "karras")
    chain = list(solver_chain(GaussianEnergy(), x0, sigmas, method, generator=g))
    return chain[0].x.clone(), chain[-1].x, len(chain) - 1


def test_the_ladders_run_from_sigma_max_to_sigma_min_and_karras_is_even_in_sigma_to_the_one_over_rho():
    geo, kar = sigma_ladder(1.0, 0.02, 10), sigma_ladder(1.0, 0.02, 10, "karras")
    for lad in (geo, kar):
        assert lad[0] == pytest.approx(1.0) and lad[-1] == pytest.approx(0.02)
        assert all(a > b for a, b in zip(lad, lad[1:]))
    roots = [s ** (1 / 7) for s in kar]
    gaps = [a - b for a, b in zip(roots, roots[1:])]
    assert max(gaps) == pytest.approx(min(gaps))
    lin = [1.0 - i * (1.0 - 0.02) / 9 for i in range(10)]  # rho = 1; geometric is the limit rho -> infinity
    assert all(g <= k + 1e-12 and k <= li + 1e-12 for g, k, li in zip(geo, kar, lin))
    with pytest.raises(ValueError, match="karras"):
        sigma_ladder(1.0, 0.02, 10, "cosine")


def test_the_ancestral_step_with_eta_one_is_the_posterior_step_and_with_eta_zero_the_ode_step():
    s, nxt = 0.5, 0.3
    assert ancestral_step(s, nxt) == pytest.approx(ancestral_step(s, nxt, eta=1.0 - 1e-12), rel=1e-6)
    assert ancestral_step(s, nxt, eta=0.0) == pytest.approx((s - nxt, 0.0))
    step, noise = ancestral_step(s, nxt, eta=0.5)
    sigma_down = s - step  # the level left after the deterministic part; noise fills it back to nxt
    assert sigma_down**2 + noise**2 == pytest.approx(nxt**2)


@pytest.mark.parametrize("method", ["heun", "dpm++2m", "euler"])
def test_the_deterministic_solvers_land_where_the_exact_ode_does(method):
    start, end, steps = run(method, 40)
    assert steps == 40
    err = (end - exact_end(start, 1.0)).abs().max().item()
    assert err < (0.02 if method == "euler" else 2e-3), err


def error(method, steps):
    start, end, _ = run(method, steps)
    return (end - exact_end(start, 1.0)).abs().mean().item()


def test_euler_is_first_order_and_heun_and_dpm_solver_second_order():
    """Doubling the steps halves a first-order solver's error and quarters a second-order one's."""
    assert error("euler", 10) / error("euler", 20) < 2.5
    assert error("heun", 10) / error("heun", 20) > 3.5
    assert error("dpm++2m", 10) / error("dpm++2m", 20) > 3.0
    assert error("heun", 10) < error("euler", 19) / 1.5  # so at the same 19 evaluations Heun is closer


def test_euler_ancestral_draws_the_data_distribution():
    _, end, _ = run("euler-a", 60, n=4096)
    assert end.mean().item() == pytest.approx(MU, abs=0.005)
    assert end.std().item() == pytest.approx(C, rel=0.1)


def test_solvers_are_reproducible_from_a_seed_and_end_in_the_pixel_range():
    for method in SOLVERS:
        _, a, _ = run(method, 6, n=64, seed=3)
        _, b, _ = run(method, 6, n=64, seed=3)
        assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="euler-a"):
        drain(solver_chain(GaussianEnergy(), torch.zeros(2, 1, 4, 4), [1.0, 0.1], "rk4"))


def test_heun_evaluates_twice_a_step_but_the_last_as_the_config_counts():
    energy = GaussianEnergy()
    drain(solver_chain(energy, torch.full((4, 1, 4, 4), MU), sigma_ladder(1.0, 0.02, 7, "karras"), "heun"))
    cfg = RunConfig().with_overrides(**{"sampler.method": "heun", "sampler.solver_steps": 7})
    assert energy.calls == cfg.sampler.evaluations() == 13  # 7 steps to 0: 6 with a second slope


def test_the_predictor_corrector_chain_evaluates_once_a_step():
    energy = GaussianEnergy()
    sched = ancestral_schedule(1.0, 0.02, 12, corrector=1)
    drain(langevin_chain(energy, torch.full((4, 1, 4, 4), MU), grad_clip=None, clamp=None, schedule=sched))
    cfg = RunConfig().with_overrides(**{"sampler.method": "pc", "sampler.levels": 12, "sampler.steps_per_level": 2})
    assert energy.calls == len(sched) + 1 == cfg.sampler.evaluations()


def test_the_config_checks_the_method_and_the_ladder():
    with pytest.raises(ConfigError, match="sampler.method"):
        RunConfig().with_overrides(**{"sampler.method": "rk4"})
    with pytest.raises(ConfigError, match="sampler.ladder"):
        RunConfig().with_overrides(**{"sampler.ladder": "cosine"})
    cfg = RunConfig().with_overrides(**{"sampler.method": "dpm++2m", "sampler.solver_steps": 12})
    assert cfg.sampler.uses_solver() and cfg.sampler.total_steps() == 12
    cd = cfg.with_overrides(**{"sampler.schedule": "constant"})  # a constant-step chain has no ladder to solve
    assert not cd.sampler.uses_solver() and cd.sampler.total_steps() == cd.sampler.steps


def test_the_fast_chain_corrects_only_above_its_cut_and_the_config_counts_its_steps():
    sched = fast_pc_schedule(1.0, 0.02, levels=6, correctors=3, snr=0.3, cut=0.2, tail=4)
    assert sched[0] == (0.0, 1.0, 1.0)  # the noise injection at sigma_max
    levels = sorted({sig for _, _, sig in sched[1:]}, reverse=True)
    assert len(levels) == 10 and levels[5] == pytest.approx(0.2) and levels[-1] == pytest.approx(0.02)
    per_level = {sig: sum(1 for _, _, s in sched[1:] if s == sig) for sig in levels}
    assert [per_level[sig] for sig in levels] == [4] * 6 + [1] * 4  # 3 correctors + the step, then plain steps
    cfg = RunConfig().with_overrides(**{"sampler.method": "fast-pc", "sampler.solver_steps": 6,
                                        "sampler.fast_correctors": 3, "sampler.fast_tail": 4})
    assert cfg.sampler.total_steps() == len(sched) and cfg.sampler.evaluations() == len(sched) + 1
    assert cfg.sampler.solver_steps_for(len(sched)) == 6  # total steps back to its levels
    odd = cfg.with_overrides(**{"sampler.fast_cut": 0.01})  # a cut below sigma_min: correctors everywhere
    assert odd.sampler.total_steps() == len(fast_pc_schedule(1.0, 0.02, 6, 3, cut=0.01, tail=4)) == 1 + 6 * 4


def test_the_fast_chain_draws_the_data_distribution_but_for_its_coarse_tails_known_shrinkage():
    """An ancestral step plugs in the denoised estimate for the clean image and so loses its
    posterior variance; with the tail's ten coarse steps that is ~10 % of a narrow Gaussian's
    spread (on digits the meter's figures do not show it: benchmarks/PERF.md)."""
    g = torch.Generator().manual_seed(0)
    x0 = MU + C * torch.randn((4096, 1, 4, 4), generator=g)
    end = drain(langevin_chain(GaussianEnergy(), x0, grad_clip=None, clamp=None, generator=g,
                               schedule=fast_pc_schedule(1.0, 0.02, 20))).x
    assert end.mean().item() == pytest.approx(MU, abs=0.005)
    assert 0.85 * C < end.std().item() < 1.02 * C
    fine = drain(langevin_chain(GaussianEnergy(), x0, grad_clip=None, clamp=None, generator=g,
                                schedule=fast_pc_schedule(1.0, 0.02, 20, tail=100))).x
    assert end.std().item() < fine.std().item() == pytest.approx(C, rel=0.05)  # finer steps lose less
