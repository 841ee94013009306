"""A run as one .zip: exported, opened by every command, and refused when it is not what it claims."""

import hashlib
import json
import stat
import zipfile

import pytest
import torch

from ebm_studio.cli import main
from ebm_studio.core import run_archive
from ebm_studio.core.checkpoint import load_run as load_run_dir
from ebm_studio.core.errors import CheckpointError
from ebm_studio.core.run_archive import MANIFEST, extract_run, load_run


@pytest.fixture(scope="module")
def run_zip(tmp_path_factory):
    base = tmp_path_factory.mktemp("archive")
    run = base / "run"
    assert main(["train", "--out", str(run), "--steps", "2", "--limit", "300", "--batch-size", "16", "--width", "4",
                 "--prior-components", "4", "--no-tensorboard", "--quiet"]) == 0
    out = base / "run.zip"
    assert main(["export-run", str(run), str(out), "--quiet"]) == 0
    return run, out


def test_export_then_open_anywhere(run_zip, tmp_path, capsys):
    run, out = run_zip
    names = set(zipfile.ZipFile(out).namelist())
    assert names == {MANIFEST, "config.toml", "model.safetensors", "metrics.csv", "samples.png"}  # a grid drawn
    loaded, original = load_run(out), load_run_dir(run)
    assert loaded.config == original.config
    for key, value in original.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value)
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# {out}") and "metrics: 2 steps" in text
    assert main(["sample", str(out), "--n", "2", "--steps", "3", "--out", str(tmp_path / "s.npy"), "--quiet"]) == 0
    assert main(["guide", str(out), "--minutes", "0.01"]) == 2  # read-only: needs --out
    assert "read-only" in capsys.readouterr().err


def _rewrite(src, dst, edit):
    """Copy the archive ``src`` to ``dst`` with ``edit(members: dict) -> dict`` applied, manifest recomputed."""
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist() if n != MANIFEST}
    members = edit(members)
    manifest = {"format": run_archive.FORMAT, "members": {n: hashlib.sha256(b).hexdigest() for n, b in members.items()}}
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr(MANIFEST, json.dumps(manifest))
        for n, b in members.items():
            z.writestr(n, b)
    return dst


@pytest.mark.parametrize("name", ["../evil.toml", "/etc/evil", "sub/config.toml", "run.py", "model.pkl"])
def test_foreign_or_escaping_names_are_refused(run_zip, tmp_path, name):
    bad = _rewrite(run_zip[1], tmp_path / "bad.zip", lambda m: {**m, name: b"x"})
    with pytest.raises(CheckpointError, match="unexpected member"):
        extract_run(bad, tmp_path / "x")
    assert not (tmp_path / "evil.toml").exists() and not (tmp_path / "x").exists()


def test_links_bombs_damage_and_non_archives_are_refused(run_zip, tmp_path, monkeypatch):
    _, good = run_zip
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(link, "w") as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == "metrics.csv":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = b"/etc/passwd"
            out.writestr(info, data)
    with pytest.raises(CheckpointError, match="link"):
        extract_run(link, tmp_path / "a")

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(damaged, "w") as out:
        for n in z.namelist():
            out.writestr(n, z.read(n) + (b"\n" if n == "metrics.csv" else b""))
    with pytest.raises(CheckpointError, match="checksum"):
        extract_run(damaged, tmp_path / "b")

    big = _rewrite(good, tmp_path / "big.zip", lambda m: {**m, "metrics.csv": b"0" * 5_000_000})
    monkeypatch.setitem(run_archive.MEMBER_LIMITS, "metrics.csv", 1_000_000)
    with pytest.raises(CheckpointError, match="metrics.csv"):
        extract_run(big, tmp_path / "c")

    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CheckpointError, match="not a readable zip"):
        load_run(tmp_path / "not.zip")
    no_model = _rewrite(good, tmp_path / "nomodel.zip",
                        lambda m: {k: v for k, v in m.items() if k != "model.safetensors"})
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_run(no_model)
