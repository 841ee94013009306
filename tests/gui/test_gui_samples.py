"""The Samples dock on its own: Boltzmann reconstructions and denoising."""

import pytest

from ebm_studio.core.families import build_model
from ebm_studio.core.presets import preset_config

pytestmark = pytest.mark.gui


def test_reconstruct_and_denoise_view_for_a_boltzmann_machine(qtbot, mnist_small):
    from ebm_studio.gui.samples_panel import SamplesPanel

    p = SamplesPanel()
    qtbot.addWidget(p)
    p.show()
    cfg = preset_config("rbm").with_overrides(**{"model.hidden": [16]})
    model = build_model(cfg)
    model.init_from_data((mnist_small.images > 0.5).float())
    p.set_model(model, cfg)
    assert p.recon_btn.isVisible() and p.recon_btn.isEnabled()
    p.reconstruct(seed=0)
    qtbot.waitUntil(lambda: len(p.samples) == 32, timeout=20000)
    assert "reconstruction pixel error" in p.report.text() and "denoised 15pct" in p.report.text()
    originals, flipped = p.samples[:8], p.samples[16:24]
    share = float(((originals > 0.5) != (flipped > 0.5)).mean())
    assert 0.10 < share < 0.20  # 15 % of the pixels flipped

    conv = preset_config("dsm").with_overrides(**{"model.width": 4})
    p.set_model(build_model(conv), conv)
    assert not p.recon_btn.isVisible()


def test_the_sampler_choice_follows_the_model_and_reaches_generate(qtbot):
    from ebm_studio.gui.samples_panel import SamplesPanel

    p = SamplesPanel()
    qtbot.addWidget(p)
    p.show()
    cfg = preset_config("dsm").with_overrides(**{"model.width": 4, "model.prior_components": 1,
                                                 "sampler.method": "dpm++2m", "sampler.solver_steps": 5})
    p.set_model(build_model(cfg), cfg)
    assert p.method.isEnabled() and p.method.currentData() == "dpm++2m"
    assert p.steps.value() == 5  # the solver's own steps
    p.method.setCurrentIndex(p.method.findData("pc"))
    assert p.steps.value() == cfg.sampler.levels * cfg.sampler.steps_per_level + 1  # the slow chain's length
    p.method.setCurrentIndex(p.method.findData("heun"))
    assert p.chosen_config().sampler.method == "heun" and p.steps.value() == 5
    p.n.set_value(4)
    p.generate()
    qtbot.waitUntil(lambda: len(p.samples) == 4, timeout=30000)
    assert "Heun ODE, 5 steps" in p.source
    assert p.samples.min() >= 0 and p.samples.max() <= 1

    rbm = preset_config("rbm").with_overrides(**{"model.hidden": [16]})
    p.set_model(build_model(rbm), rbm)
    assert not p.method.isEnabled()  # Gibbs sampling has no noise ladder to solve
    assert p.chosen_config() is rbm


def test_generate_during_training_draws_with_the_runs_own_sampler(qtbot):
    """The panel shows the shipped model (fast predictor-corrector) while a CD run trains; the copy
    of the run's weights must be drawn by the run's sampler, the recovery chain, not the one shown."""
    from ebm_studio.gui.samples_panel import SamplesPanel

    p = SamplesPanel()
    qtbot.addWidget(p)
    p.show()
    shown = preset_config("dsm").with_overrides(**{"model.width": 4, "model.prior_components": 1})
    p.set_model(build_model(shown), shown)
    assert p.chosen_config().sampler.method == "fast-pc"
    run = preset_config("cd").with_overrides(**{"model.width": 4, "model.prior_components": 1})
    p.n.set_value(4)
    p.generate_with(build_model(run), run, " (model at step 3)")
    qtbot.waitUntil(lambda: len(p.samples) == 4, timeout=20000)
    assert p.chosen_config().sampler.method == "recovery" and p.steps.value() == run.sampler.total_steps()
    assert "recovery chain" in p.source
