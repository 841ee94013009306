"""The flow-matching baseline in the studio: listed in the family menu, trains, draws samples."""

import pytest
from PySide6.QtCore import QSettings

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, load_pretrained=False, restore_state=False, confirm_close=lambda: "discard")
    w.training.set_config(RunConfig().with_overrides(**{"model.width": 4, "data.limit": 256}))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    qtbot.waitUntil(lambda: w.worker is None, timeout=10000)


def test_flow_matching_is_in_the_menu_trains_a_few_steps_and_samples(window, qtbot):
    t = window.training
    names = [t.family.itemData(i) for i in range(t.family.count())]
    assert "flowmatch" in names
    t.family.setCurrentIndex(t.family.findData("flowmatch"))
    cfg = t.config()
    assert cfg.model.family == "flowmatch" and t.preset.currentText() == "flowmatch"
    assert not t.schedule.isEnabled() and not t.steps.isEnabled()  # no Langevin or Gibbs settings
    t.set_config(cfg.with_overrides(**{"model.width": 4, "data.limit": 200, "train.batch_size": 20,
                                       "sampler.solver_steps": 3}))
    assert t.config().model.width == 4  # the width field is the family's model.width
    t.budget_kind.setCurrentText("steps")
    t.budget_value.setText("3")
    window.start()
    qtbot.waitUntil(lambda: window.worker is None, timeout=20000)
    assert window.charts.n_points == 3
    assert window.charts.labels["e_data"] == "FM loss(data)"
    assert window.model is not None
    # no chain to play on the canvas (a baseline, its ODE starts from noise only), and it says why
    assert not window.canvas.play_btn.isEnabled() and "baseline" in window.canvas.play_btn.toolTip()
    s = window.samples
    assert s.steps.value() == 3  # the solver's steps
    s.n.set_value(6)
    s.generate()
    qtbot.waitUntil(lambda: len(s.samples) == 6 and not s._busy, timeout=20000)
    assert s.samples.min() >= 0 and s.samples.max() <= 1
    assert "Heun ODE, 3 steps" in s.source
    offered = [s.method.itemData(i) for i in range(s.method.count()) if s.method.model().item(i).isEnabled()]
    assert offered == ["heun", "euler"]  # the energy's ladder samplers are greyed out for it
    s.method.setCurrentIndex(s.method.findData("euler"))  # the other solver it knows
    s.generate()
    qtbot.waitUntil(lambda: "Euler" in s.source and not s._busy, timeout=20000)
    assert len(s.samples) == 6
