"""Progress goes to stderr (a bar on a terminal, plain lines in a pipe), never into stdout."""

import io
import json
import subprocess
import sys

import numpy as np

from ebm_studio.cli.progress import Progress


def test_terminal_bar_and_plain_lines_and_quiet():
    tty = io.StringIO()
    with Progress("sample", total=10, tty=True, stream=tty) as bar:
        for i in range(1, 11):
            bar.update(i, postfix=f"loss {i}")
    text = tty.getvalue()
    assert "\r" in text and "10/10" in text and "step/s" in text and "loss 10" in text

    log = io.StringIO()
    with Progress("train", total=4, tty=False, stream=log, every=0.0) as bar:
        for i in range(1, 5):
            bar.update(i)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 4  # each update, the last one once
    assert lines[-1].startswith("train: 4/4 step (100%) [") and "<00:00" in lines[-1]

    quiet = io.StringIO()
    with Progress("x", total=3, quiet=True, stream=quiet) as bar:
        bar.update(3)
        bar.write("diverged")  # events are not progress: --quiet still tells them
    assert quiet.getvalue() == "diverged\n"


def _ebm(*argv):
    return subprocess.run([sys.executable, "-m", "ebm_studio", *argv], capture_output=True, timeout=300)


def test_sample_to_stdout_is_the_npy_alone_and_progress_is_on_stderr(tmp_path):
    out = _ebm("sample", "pretrained", "--n", "3", "--steps", "21", "--out", "-")
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    samples = np.load(io.BytesIO(out.stdout), allow_pickle=False)
    assert samples.shape == (3, 28, 28) and samples.dtype == np.float32
    err = out.stderr.decode()
    assert "sample: " in err and "step/s" in err and "\r" not in err  # a pipe: plain lines
    path = tmp_path / "s.npy"
    path.write_bytes(out.stdout)
    scored = _ebm("evaluate", str(path), "--json")
    assert scored.returncode == 0
    assert set(json.loads(scored.stdout)) >= {"fid", "confidence"}
    quiet = _ebm("sample", "pretrained", "--n", "2", "--steps", "5", "--out", str(tmp_path / "q.npy"), "--quiet")
    assert quiet.returncode == 0 and "step/s" not in quiet.stderr.decode()
