"""The hostile corpus's files through the studio's open / load / drop paths, offscreen: every bad
file gives a message in the window (status bar and log), never a traceback (issue #24)."""

import os
import struct

import numpy as np
import pytest
from PySide6.QtCore import QSettings

pytestmark = pytest.mark.gui

HEADER = "step,epoch,loss,grad_norm,e_data,e_samples,seconds,lr,event\n"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_STUDIO_RUNS_DIR", str(tmp_path / "runs"))
    from ebm_studio.gui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), load_pretrained=False,
                   restore_state=False, confirm_close=lambda: "discard")
    qtbot.addWidget(w)
    errors = []
    w.canvas.error.connect(errors.append)
    w.canvas_errors = errors
    yield w
    w.close()


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    from ebm_studio.core.checkpoint import save_run
    from ebm_studio.core.config import RunConfig
    from ebm_studio.core.families import build_model

    d = tmp_path_factory.mktemp("good") / "run"
    cfg = RunConfig().with_overrides(**{"model.family": "rbm", "model.hidden": [8]})
    save_run(d, build_model(cfg), cfg)
    return d


def _copy(good_run, tmp_path):
    import shutil

    d = tmp_path / "run"
    shutil.copytree(good_run, d)
    return d


def _logged(w) -> str:
    return w.log.toPlainText()


RUN_DAMAGE = {
    "weights-garbage": lambda d: (d / "model.safetensors").write_bytes(os.urandom(3000)),
    "weights-truncated": lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:99]),
    "weights-8mb-metadata": lambda d: (d / "model.safetensors").write_bytes(
        struct.pack("<Q", 8 << 20) + b'{"__metadata__":{"x":"' + b"a" * ((8 << 20) - 26) + b'"}}'),
    "weights-fifo": lambda d: ((d / "model.safetensors").unlink(), os.mkfifo(d / "model.safetensors")),
    "weights-folder": lambda d: ((d / "model.safetensors").unlink(), (d / "model.safetensors").mkdir()),
    "config-deep": lambda d: (d / "config.toml").write_text("x = " + "[" * 5000 + "]" * 5000),
    "config-dotted": lambda d: (d / "config.toml").write_text(".".join(["a"] * 100_000) + " = 1\n"),
    "config-binary": lambda d: (d / "config.toml").write_bytes(os.urandom(500)),
    "config-seed-1e14": lambda d: (d / "config.toml").write_text("[train]\nseed = 1e14\n"),
}


@pytest.mark.parametrize("name", list(RUN_DAMAGE))
def test_open_path_of_a_damaged_run_shows_a_message(window, good_run, tmp_path, name):
    run = _copy(good_run, tmp_path)
    RUN_DAMAGE[name](run)
    assert window.open_path(str(run)) is False
    assert "ERROR" in _logged(window) and ("run" in _logged(window) or "toml" in _logged(window))
    assert window.model is None


@pytest.mark.parametrize("data", [os.urandom(400), (HEADER + "1,0.5\n").encode("utf-16"), (HEADER + "abc\n").encode()],
                         ids=["binary", "utf16", "short"])
def test_a_run_with_corrupt_metrics_opens_and_says_the_history_is_missing(window, good_run, tmp_path, data):
    run = _copy(good_run, tmp_path)
    (run / "metrics.csv").write_bytes(data)
    assert window.open_path(str(run)) is True
    assert "metrics.csv" in _logged(window)
    assert (run / "metrics.csv").read_bytes() == data  # viewing never renames or rewrites the log


def test_a_folder_named_metrics_csv_does_not_stop_the_open(window, good_run, tmp_path):
    run = _copy(good_run, tmp_path)
    (run / "metrics.csv").mkdir()
    assert window.open_path(str(run)) is True


CONFIGS = {
    "deep-array": "x = " + "[" * 5000 + "]" * 5000,
    "deep-inline": "x = " + "{a = " * 3000 + "1" + "}" * 3000,
    "deep-dotted": ".".join(["a"] * 100_000) + " = 1\n",
    "wrong-type": '[train]\nlr = "fast"\n',
    "seed-huge": "[train]\nseed = 100000000000000\n",
    "vae-huge": '[model]\nfamily = "vae"\nhidden = [100000]\n',
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_load_config_file_of_a_hostile_config_shows_a_message(window, tmp_path, name):
    p = tmp_path / "c.toml"
    p.write_text(CONFIGS[name])
    assert window.load_config_file(str(p)) is False
    assert "ERROR" in _logged(window) and "c.toml" in _logged(window)


def test_load_config_file_of_a_fifo_does_not_hang(window, tmp_path):
    p = tmp_path / "c.toml"
    os.mkfifo(p)
    assert window.load_config_file(str(p)) is False
    assert "FIFO" in _logged(window)


def _image_files(tmp_path):
    from PIL import Image

    files = {}
    p = tmp_path / "nan.tiff"
    Image.fromarray(np.full((28, 28), np.nan, np.float32)).save(p)
    files["nan"] = p
    p = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(p)
    files["bomb"] = p
    p = tmp_path / "trunc.png"
    Image.new("L", (28, 28), 255).save(p)
    p.write_bytes(p.read_bytes()[:50])
    files["truncated"] = p
    p = tmp_path / "text.png"
    p.write_text("not an image")
    files["text"] = p
    p = tmp_path / "fifo.png"
    os.mkfifo(p)
    files["fifo"] = p
    p = tmp_path / "dir.png"
    p.mkdir()
    files["folder"] = p
    return files


def test_canvas_image_loads_of_hostile_images_emit_an_error(window, tmp_path):
    files = _image_files(tmp_path)
    for name, path in files.items():
        before = len(window.canvas_errors)
        assert window.canvas.load_image(str(path)) is False, name
        assert len(window.canvas_errors) == before + 1 and str(path) in window.canvas_errors[-1], name


def test_dropping_hostile_files_on_the_canvas_emits_an_error(window, tmp_path):
    files = _image_files(tmp_path)
    for name, path in files.items():
        before = len(window.canvas_errors)
        window.canvas.surface.file_dropped.emit(str(path))  # what dropEvent emits for a dropped file
        assert len(window.canvas_errors) == before + 1, name
        assert str(path) in _logged(window), name  # shown in the window's status bar and log
