"""Contrastive refinement: the staggered pool of ancestral chains and the DSM trainer's contrastive term."""

import math

import pytest
import torch
from toy_energies import GaussianEnergy

from ebm_studio.cli import main
from ebm_studio.core.checkpoint import load_run
from ebm_studio.core.config import RunConfig
from ebm_studio.core.conv.chain_pool import ChainPool
from ebm_studio.core.conv.dsm import DSMTrainer
from ebm_studio.core.errors import ConfigError

SMALL = {"model.width": 4, "train.batch_size": 16, "sampler.levels": 12, "sampler.steps_per_level": 2,
         "train.contrast_chains": 8, "train.contrast_phase": 0.0}  # the term throughout, unless a test says otherwise


def make_pool(size=64, levels=40, corrector=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ChainPool(1.0, 0.01, levels, corrector, 0.2, size, lambda n: torch.rand((n, 1, 28, 28), generator=g), g)


def test_the_pool_starts_staggered_and_every_chain_finishes_and_restarts():
    pool = make_pool(size=8, levels=16)
    assert sorted(pool.level.tolist()) == [-14, -12, -10, -8, -6, -4, -2, 0]  # chain j waits j * 16 / 8 levels
    model = GaussianEnergy(0.3, 0.2)
    for _ in range(8):  # 16 levels: the first chain has just finished, the rest are spread over the ladder
        pool.step(model)
    assert len(pool.finished) == 1
    assert sorted(pool.level.tolist()) == [0, 2, 4, 6, 8, 10, 12, 14]
    for _ in range(8):
        pool.step(model)
    assert len(pool.finished) == 9  # every chain has finished once, the first twice (32 levels run)
    assert pool.finished.min() >= 0 and pool.finished.max() <= 1


def test_finished_chains_sample_the_energy_they_follow():
    mu, s0 = 0.4, 0.15
    pool = make_pool(size=64, levels=40)
    pool.KEEP_FINISHED = 10_000
    model = GaussianEnergy(mu, s0)
    for _ in range(40):  # one full stagger and one full pass of the ladder
        pool.step(model)
    x = pool.finished
    assert len(x) >= 64
    assert x.mean().item() == pytest.approx(mu, abs=0.01)
    assert x.std().item() == pytest.approx(s0, rel=0.1)  # a wrong step size or noise scale shows here


def test_negatives_are_the_chains_at_or_below_the_asked_level():
    pool = make_pool(size=32, levels=20)
    model = GaussianEnergy(0.3, 0.2)
    for _ in range(12):
        pool.step(model)
    x, sig = pool.negatives(0.1)
    low = (pool.level >= 0) & (pool.sigmas[pool.level.clamp(min=0)] <= 0.1)
    assert len(x) == int(low.sum()) > 0
    assert (sig <= 0.1).all()


def test_a_blown_up_chain_starts_over_instead_of_poisoning_the_pool():
    class Exploding(GaussianEnergy):
        def forward(self, x, sigma):
            out = super().forward(x, sigma)
            return torch.where(torch.arange(len(x)) == 0, out * float("inf"), out)

    pool = make_pool(size=4, levels=8)
    pool.level[:] = 3
    pool.step(Exploding(0.3, 0.2))
    assert torch.isfinite(pool.x).all()


def trainer(mnist_small, **overrides):
    cfg = RunConfig().with_overrides(**{**SMALL, "train.contrast": 0.01, **overrides})
    return DSMTrainer(cfg, mnist_small.images)


def test_the_contrastive_term_lowers_data_energy_and_raises_the_chains(mnist_small):
    tr = trainer(mnist_small, **{"model.gaussian_prior": False})  # the net alone: the Gaussian fit has no weights
    pool = tr._chain_pool()
    for _ in range(8):
        pool.step(tr.model)
    torch.manual_seed(0)
    out = tr._contrast_term()
    assert out is not None
    term, e_pos, e_neg = out
    assert math.isfinite(e_pos) and math.isfinite(e_neg)
    neg, sig = tr.pool.negatives(tr.cfg.train.contrast_sigma)
    g = torch.Generator().manual_seed(1)
    pos = mnist_small.images[:len(neg)] + sig.view(-1, 1, 1, 1) * torch.randn(neg.shape, generator=g)
    before_pos, before_neg = tr.model(pos, sig).detach(), tr.model(neg, sig).detach()
    opt = torch.optim.Adam(tr.model.parameters(), lr=1e-2)
    for _ in range(10):  # descend the term alone, with fresh data each time
        opt.zero_grad()
        tr._contrast_term()[0].backward()
        opt.step()
    gap_before = (before_neg - before_pos).mean()
    gap_after = (tr.model(neg, sig) - tr.model(pos, sig)).detach().mean()
    assert gap_after > gap_before + 0.01  # the chains' states now lie higher above the data than before


@pytest.mark.parametrize("level", [0, 5, 11])
def test_a_tilt_weights_each_chain_by_its_level_against_the_ladder_mean(mnist_small, level):
    tr = trainer(mnist_small)
    pool = tr._chain_pool()
    for _ in range(8):
        pool.step(tr.model)
    pool.step = lambda model: None  # hold the chains still, so every term below sees the same ones
    pool.level[:] = level  # every chain at one level: the tilt then scales the whole term by one weight
    terms = {}
    for tilt in (0.0, 1.0, -0.5):
        tr.update_settings(tr.cfg.with_overrides(**{"train.contrast_tilt": tilt}))
        tr.generator.manual_seed(7)  # the same data and noise for every tilt
        terms[tilt] = float(tr._contrast_term()[0].detach())
    sigma = pool.sigmas[level]
    for tilt in (1.0, -0.5):
        weight = float(sigma**tilt / pool.sigmas.pow(tilt).mean())
        assert terms[tilt] == pytest.approx(terms[0.0] * weight, rel=1e-4)
    # the top of the ladder (sigma_max) weighs more than the average level with a positive tilt, less below it
    assert (abs(terms[1.0]) > abs(terms[0.0])) == (level == 0)


def test_training_with_the_term_shows_the_chains_in_the_gallery_and_charts(mnist_small):
    tr = trainer(mnist_small)
    records = [tr.train_step() for _ in range(12)]
    assert all(math.isfinite(r.loss) and math.isfinite(r.grad_norm) for r in records)
    assert len(tr.pool.finished) > 0  # 12 steps x 2 levels: the first chains have run the 12-level ladder
    assert tr.negatives.shape[1:] == (1, 28, 28)
    assert torch.equal(tr.negatives, tr.pool.finished)  # the gallery shows real samples of the model
    plain = DSMTrainer(RunConfig().with_overrides(**SMALL, **{"train.contrast": 0.0}), mnist_small.images)
    assert plain.train_step() and plain.pool is None  # off: no chains, no cost


def test_the_term_is_skipped_without_the_ancestral_sampler_or_a_noise_conditional_energy(mnist_small):
    for other in ({"sampler.schedule": "annealed"}, {"model.noise_conditional": False, "model.gaussian_prior": False}):
        tr = trainer(mnist_small, **other)
        assert not tr.contrast_on
        assert math.isfinite(tr.train_step().loss) and tr.pool is None
    with pytest.raises(ConfigError, match="train.contrast"):
        RunConfig().with_overrides(**{"train.contrast": float("nan")})


def test_chains_move_the_configured_number_of_levels_a_step_and_a_change_restarts_the_pool(mnist_small):
    tr = trainer(mnist_small, **{"train.contrast_levels_per_step": 3})
    tr.train_step()
    assert tr.pool.levels_per_step == 3
    first = int(tr.pool.level.max())  # chain 0 starts at once: three levels down after one step
    assert first == 3
    tr.update_settings(tr.cfg.with_overrides(**{"train.contrast_levels_per_step": 1}))
    assert tr.pool is None
    tr.train_step()
    assert tr.pool.levels_per_step == 1 and int(tr.pool.level.max()) == 1


def test_changing_the_ladder_mid_run_restarts_the_chains(mnist_small):
    tr = trainer(mnist_small)
    tr.train_step()
    assert tr.pool is not None
    tr.update_settings(tr.cfg.with_overrides(**{"sampler.levels": 20}))
    assert tr.pool is None
    tr.train_step()
    assert tr.pool.levels == 20


def test_cli_resume_with_contrast_refines_and_saves_the_weight(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "2", "--limit", "64", "--batch-size", "16", "--width", "4",
                 "--quiet"]) == 0
    assert load_run(run).config.train.contrast == RunConfig().train.contrast
    assert main(["train", "--out", str(run), "--steps", "3", "--resume", "--contrast", "0.02", "--contrast-phase",
                 "0.5", "--quiet"]) == 0
    saved = load_run(run).config.train
    assert saved.contrast == pytest.approx(0.02) and saved.contrast_phase == pytest.approx(0.5)


def test_a_contrast_phase_refines_only_the_end_of_a_budget_at_a_tenth_of_the_rate(mnist_small):
    from ebm_studio.core.session import Budget, TrainingSession

    cfg = RunConfig().with_overrides(**{**SMALL, "train.lr": 1e-3, "train.contrast": 0.01, "train.contrast_phase": 0.3})
    session = TrainingSession(cfg, data=mnist_small.images, autosave_minutes=0)
    seen = []
    for r in session.run(Budget(steps=10)):
        seen.append((r.lr, session.trainer.pool is not None))
    assert [lr for lr, _ in seen] == pytest.approx([1e-3] * 7 + [1e-4] * 3)
    assert [has_pool for _, has_pool in seen] == [False] * 7 + [True] * 3  # no chains, no cost, before the phase
    assert session.trainer.lr == pytest.approx(1e-3) and not session.trainer.refining  # the phase ends with the budget
    assert not DSMTrainer(cfg, mnist_small.images).contrast_on  # without a budget there is no phase to be in


def test_contrast_phase_outside_zero_to_one_is_refused():
    with pytest.raises(ConfigError, match="contrast_phase"):
        RunConfig().with_overrides(**{"train.contrast_phase": 1.5})


def test_the_energy_chart_names_what_it_plots_when_the_term_is_on():
    from ebm_studio.gui.charts import energy_labels

    plain = RunConfig().with_overrides(**{"train.contrast": 0.0})
    assert energy_labels(plain) == ("E(clean data)", "E(noised data)")
    assert energy_labels(plain.with_overrides(**{"train.contrast": 0.01,
                                                 "train.contrast_phase": 0.0}))[1] == "E(sampler chains)"
    assert "chains" in energy_labels(plain.with_overrides(**{"train.contrast": 0.01, "train.contrast_phase": 0.3}))[1]
