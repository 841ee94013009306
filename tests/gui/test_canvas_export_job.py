"""Canvas Export GIF/strip runs as a job: progress in the job bar's record, Cancel before writing."""

import numpy as np
import pytest
from torch import nn

from ebm_studio.core.config import RunConfig

pytestmark = pytest.mark.gui


class BarEnergy(nn.Module):
    def forward(self, x):
        return (x ** 2).flatten(1).sum(1)


@pytest.fixture
def panel(qtbot):
    from ebm_studio.gui.canvas import CanvasPanel

    p = CanvasPanel()
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    p.set_model(BarEnergy(), RunConfig().with_overrides(**{"sampler.schedule": "constant"}))
    return p


def test_gif_export_in_background_reports_every_frame_and_ends(panel, qtbot, tmp_path):
    from PIL import Image

    panel.every.setValue(5)
    panel.seed_noise()
    for _ in range(20):
        panel.step()
    path = tmp_path / "c.gif"
    record = panel.export_in_background("gif", str(path))
    assert record in panel.jobs.running and not panel.gif_btn.isEnabled()  # one export at a time
    qtbot.waitUntil(lambda: len(panel.jobs) == 0, timeout=10000)
    assert (record.done, record.total) == (5, 5) and record.finished
    assert Image.open(path).n_frames == 5 and panel.gif_btn.isEnabled()
    strip = panel.export_in_background("strip", str(tmp_path / "c.png"))
    qtbot.waitUntil(lambda: len(panel.jobs) == 0, timeout=10000)
    assert strip.finished and Image.open(tmp_path / "c.png").size[0] > 28


def test_a_cancelled_gif_stops_at_the_next_frame_and_writes_nothing(tmp_path):
    from ebm_studio.controller.jobs import Job, JobCancelled
    from ebm_studio.gui.canvas.chain_export import write_gif

    class CancelAtThree(Job):
        def advance(self, done, total=None):
            super().advance(done, total)
            if done == 3:
                self.cancel()

    job = CancelAtThree("export")
    frames = np.random.rand(50, 2, 28, 28).astype(np.float32)
    with pytest.raises(JobCancelled):
        write_gif(str(tmp_path / "c.gif"), frames, job=job)
    assert job.done == 3 and not (tmp_path / "c.gif").exists()


def test_export_without_a_chain_says_so(panel):
    assert panel.export_in_background("gif", "unused.gif") is None
    assert "run a chain first" in panel.last_error and len(panel.jobs) == 0


def test_unwritable_path_is_a_message_not_a_traceback(panel, qtbot, tmp_path):
    panel.seed_noise()
    panel.step()
    errors = []
    panel.error.connect(errors.append)
    (tmp_path / "a-file").write_text("not a folder")
    panel.export_in_background("gif", str(tmp_path / "a-file" / "c.gif"))
    qtbot.waitUntil(lambda: len(panel.jobs) == 0, timeout=10000)
    assert errors and errors[0].startswith("could not export:") and "c.gif" in errors[0]

