import subprocess
import sys

import numpy as np
import pytest

from ebm_studio.cli import main


def test_cli_train_then_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "3", "--limit", "200", "--batch-size", "16", "--quiet"]) == 0
    for name in ("model.safetensors", "config.toml", "trainer.safetensors", "metrics.csv"):
        assert (run / name).exists(), name
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 4
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "--n", "5", "--out", str(out), "--steps", "2"]) == 0
    arr = np.load(out)
    assert arr.shape == (5, 28, 28) and arr.dtype == np.float32
    assert arr.min() >= 0 and arr.max() <= 1
    png = tmp_path / "s.png"
    assert main(["sample", str(run), "--n", "6", "--out", str(png), "--steps", "1", "--grid", "2x3"]) == 0
    from PIL import Image

    w, h = Image.open(png).size
    assert (w, h) == ((3 * 28 + 4 * 2) * 2, (2 * 28 + 3 * 2) * 2)
    gif = tmp_path / "c.gif"
    # the predictor-corrector chain: --steps 20 = 10 levels of 2 steps + 1 noise injection = 21 updates;
    # frames at steps 0, 5, 10, 15, 20 and the final state 21
    assert main(["chain", str(run), "--out", str(gif), "--n", "2", "--steps", "20", "--every", "5",
                 "--sampler", "pc"]) == 0
    assert Image.open(gif).n_frames == 6
    # a solver: --steps are its steps, frames at 0, 4, 8 and the final state 10
    assert main(["chain", str(run), "--out", str(gif), "--n", "2", "--steps", "10", "--every", "4",
                 "--sampler", "heun"]) == 0
    assert Image.open(gif).n_frames == 4
    # an explicit step size switches to constant-step Langevin: exactly --steps steps
    assert main(["chain", str(run), "--out", str(gif), "--n", "2", "--steps", "6", "--every", "2",
                 "--step-size", "0.01"]) == 0
    assert Image.open(gif).n_frames == 4
    # resume continues from the saved step
    assert main(["train", "--out", str(run), "--steps", "2", "--resume", "--quiet"]) == 0
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 6


def test_cli_sampler_choice_reaches_sample_evaluate_and_compare(tmp_path, capsys):
    import json

    from ebm_studio.cli.compare import with_sampler
    from ebm_studio.core.presets import preset_config

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "2", "--limit", "64", "--batch-size", "16", "--width", "4",
                 "--quiet"]) == 0
    for method in ("heun", "dpm++2m", "euler", "euler-a"):
        out = tmp_path / f"{method}.npy"
        assert main(["sample", str(run), "--n", "3", "--out", str(out), "--sampler", method, "--steps", "3",
                     "--quiet"]) == 0
        arr = np.load(out)
        assert arr.shape == (3, 28, 28) and 0 <= arr.min() and arr.max() <= 1
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "20", "--sampler", "euler-a", "--steps", "4", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 20
    cfg = preset_config("dsm")
    assert with_sampler(cfg, "dpm++2m", 9).sampler.solver_steps == 9
    assert with_sampler(cfg, "pc", 21).sampler.levels == 10  # the chain's levels of 2 steps, +1 injection
    rbm = preset_config("rbm")
    assert with_sampler(rbm, "heun", 9) is rbm  # compare leaves other families' samplers alone
    rbm_run = tmp_path / "rbm"
    assert main(["train", "--out", str(rbm_run), "--model", "rbm", "--steps", "1", "--limit", "64", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sample", str(rbm_run), "--n", "2", "--out", str(tmp_path / "r.npy"), "--sampler", "heun"]) == 2
    err = capsys.readouterr().err
    assert "--sampler applies to noise-conditional conv models" in err and "Traceback" not in err


def test_cli_train_with_cd_preset(tmp_path):
    run = tmp_path / "cd"
    assert main(["train", "--out", str(run), "--preset", "cd-uva", "--steps", "2", "--limit", "64",
                 "--batch-size", "16", "--quiet"]) == 0
    text = (run / "config.toml").read_text()
    assert 'objective = "cd"' in text and 'schedule = "constant"' in text


def test_cli_refuses_overwriting_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "1", "--limit", "64", "--batch-size", "16", "--quiet"]) == 0
    assert main(["train", "--out", str(run), "--steps", "1", "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_resume_with_anneal_ends_a_run_on_a_falling_lr(tmp_path):
    import csv

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "2", "--limit", "64", "--batch-size", "16", "--width", "4",
                 "--lr", "1e-3", "--quiet"]) == 0
    assert main(["train", "--out", str(run), "--steps", "4", "--resume", "--lr", "4e-4", "--anneal", "1",
                 "--contrast", "0", "--quiet"]) == 0
    lrs = [float(r["lr"]) for r in csv.DictReader((run / "metrics.csv").open())]
    assert lrs == pytest.approx([1e-3, 1e-3, 4e-4, 3e-4, 2e-4, 1e-4])
    assert "lr_anneal = 1.0" in (run / "config.toml").read_text()


@pytest.mark.parametrize("argv", [
    ["train", "--out", "x", "--anneal", "1.5"],
    ["train", "--out", "x", "--lr", "nan"],
    ["train", "--out", "x", "--steps", "-1"],
    ["sample"],
    ["sample", "r", "--n", "zero", "--out", "a.npy"],
])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_corrupt_checkpoint_one_line_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text("[model]\nfamily = 'conv'\n")
    (run / "model.safetensors").write_bytes(b"\x00" * 100)
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "a.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.safetensors" in err and "Traceback" not in err


def test_bad_init_image(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "1", "--limit", "64", "--batch-size", "16", "--quiet"]) == 0
    bogus = tmp_path / "not_an_image.png"
    bogus.write_text("hello")
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "a.npy"), "--init", str(bogus)]) == 2
    assert "not a readable image" in capsys.readouterr().err


def test_help_of_each_command():
    for cmd in (["--help"], ["train", "--help"], ["sample", "--help"], ["evaluate", "--help"], ["chain", "--help"]):
        out = subprocess.run([sys.executable, "-m", "ebm_studio", *cmd], capture_output=True, text=True)
        assert out.returncode == 0 and "usage: ebm-studio" in out.stdout


def test_cli_train_chooses_the_base_energy_and_resume_keeps_it(tmp_path):
    from ebm_studio.core.checkpoint import load_run
    from ebm_studio.core.conv.mixture_prior import MixturePrior
    from ebm_studio.core.conv.sampler import gaussian_prior_of

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "1", "--limit", "300", "--batch-size", "16", "--width", "4",
                 "--prior-components", "4", "--quiet"]) == 0
    prior = gaussian_prior_of(load_run(run).model)
    assert isinstance(prior, MixturePrior) and prior.components == 4
    assert main(["train", "--out", str(run), "--steps", "2", "--resume", "--prior-components", "1", "--quiet"]) == 2
    assert main(["train", "--out", str(run), "--steps", "2", "--resume", "--quiet"]) == 0
    assert gaussian_prior_of(load_run(run).model).components == 4
