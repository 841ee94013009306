"""Both AIS estimators against exact log Z by enumeration: each within its error bar, each erring on its side."""


import pytest
import torch
from toy_energies import binary_states, random_rbm

from ebm_studio.core.boltzmann.ais import SIDES, ais_log_partition, log_likelihood_figures, reverse_ais_log_partition
from ebm_studio.core.boltzmann.dbm import DBM
from ebm_studio.core.boltzmann.rbm import RBM, can_enumerate, exact_log_partition


def rbm(nv, nh, scale, seed=0, hidden="bernoulli"):
    return random_rbm(nv, nh, seed=seed, scale=scale, hidden=hidden)


visible_states = binary_states


def brute_log_z(r):
    with torch.no_grad():
        return float(torch.logsumexp(-r.free_energy(visible_states(r.n_visible)).double(), 0))


def exact_samples(r, n, seed=0):
    """Independent draws from the model itself, by enumerating p(v)."""
    v = visible_states(r.n_visible)
    with torch.no_grad():
        p = torch.softmax(-r.free_energy(v).double(), 0)
    return v[torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))]


@pytest.mark.parametrize("nv,nh,hidden", [(12, 10, "bernoulli"), (10, 30, "bernoulli"), (9, 4, "gaussian")])
def test_exact_log_z_enumerates_either_side(nv, nh, hidden):
    r = rbm(nv, nh, 0.6, hidden=hidden)
    assert can_enumerate(r)
    assert exact_log_partition(r) == pytest.approx(brute_log_z(r), abs=1e-6)
    assert exact_log_partition(r, chunk=7) == pytest.approx(exact_log_partition(r), abs=1e-5)


def test_exact_log_z_refuses_two_large_sides():
    r = RBM(30, 21)
    assert not can_enumerate(r)
    with pytest.raises(ValueError, match="at most 20 units"):
        exact_log_partition(r)


def test_forward_and_reverse_ais_match_exact_log_z_within_error_bars():
    r = rbm(12, 10, 0.8)
    exact = exact_log_partition(r)
    base = torch.zeros(12)
    fwd = ais_log_partition(r, base, n_chains=200, n_betas=500, runs=5, seed=0)
    rev = reverse_ais_log_partition(r, base, exact_samples(r, 1000), n_betas=500, runs=5, burn_in=0, seed=0)
    for res in (fwd, rev):
        assert abs(res.log_z - exact) < max(4 * res.log_z_stderr, 0.05), (res, exact)
        assert len(res.runs) == 5 and res.log_z_stderr > 0


def test_each_estimator_errs_on_its_own_side_when_annealing_is_crude():
    # 4 temperatures from the uniform base to a model of strong weights: the importance weights are
    # very uneven, and Jensen's inequality shows as a large bias of known sign in each direction
    r = rbm(12, 10, 3.0, seed=0)
    exact = exact_log_partition(r)
    base = torch.zeros(12)
    fwd = ais_log_partition(r, base, n_chains=50, n_betas=4, runs=4, seed=0)
    rev = reverse_ais_log_partition(r, base, exact_samples(r, 200, seed=1), n_betas=4, runs=4, burn_in=0, seed=0)
    assert fwd.log_z < exact - 1.0 < exact + 1.0 < rev.log_z, (fwd.log_z, exact, rev.log_z)
    assert sum(fwd.runs) / 4 < exact - 1.0 < exact + 1.0 < sum(rev.runs) / 4


def test_reverse_ais_burn_in_moves_chains_from_a_bad_start_towards_the_model():
    r = rbm(12, 10, 0.8, seed=2)
    exact = exact_log_partition(r)
    bad = torch.ones(500, 12)  # every chain at one corner: far from the model
    cold = reverse_ais_log_partition(r, torch.zeros(12), bad, n_betas=4, runs=5, burn_in=0, seed=0)
    warm = reverse_ais_log_partition(r, torch.zeros(12), bad, n_betas=4, runs=5, burn_in=50, seed=0)
    assert abs(warm.log_z - exact) < abs(cold.log_z - exact)


def test_figures_bracket_the_exact_log_likelihood_of_a_small_rbm_and_dbm():
    torch.manual_seed(0)
    train = (torch.rand(300, 784) < 0.15).float()
    test = (torch.rand(100, 784) < 0.15).float()
    r = RBM(784, 12)
    with torch.no_grad():
        r.W.normal_(0, 0.05)
    figs = log_likelihood_figures(r, train, test, n_chains=50, n_betas=300, runs=3)
    exact = figs["test_log_likelihood_exact_nats"]
    for key, err in (("test_log_likelihood_nats", "ais_log_z_stderr"),
                     ("test_log_likelihood_reverse_ais_nats", "reverse_ais_log_z_stderr")):
        assert abs(figs[key] - exact) < max(4 * figs[err], 0.1), figs
    d = DBM(784, (10, 6))
    dbm_figs = log_likelihood_figures(d, train, test, n_chains=50, n_betas=300, runs=3)
    assert "test_log_likelihood_lower_bound_reverse_ais_nats" in dbm_figs
    assert abs(dbm_figs["ais_log_z"] - dbm_figs["exact_log_z"]) < max(4 * dbm_figs["ais_log_z_stderr"], 0.1)
    assert "optimistic" in SIDES["forward"] and "conservative" in SIDES["reverse"]
