"""``--set KEY=VALUE``: every config key from the command line, checked before any work starts."""

import pytest

from ebm_studio.cli import main
from ebm_studio.cli.config_set import parse_overrides
from ebm_studio.core.config import OPTIMIZERS, load_config


def test_values_take_the_type_of_the_field():
    got = parse_overrides(["train.lr=2e-3", "model.width=8", "model.hidden=200,100", "train.optimizer=sgd",
                           "model.spectral_norm=true", "data.digits=[3, 5]", "train.ema=0"])
    assert got == {"train.lr": 0.002, "model.width": 8, "model.hidden": [200, 100], "train.optimizer": "sgd",
                   "model.spectral_norm": True, "data.digits": [3, 5], "train.ema": 0}


@pytest.mark.parametrize("item, words", [
    ("train.optimiser=sgd", "train.optimizer"),          # a typo gets the nearest key
    ("train.optimizer=rmsprop", ", ".join(OPTIMIZERS)),  # a choice lists the config's own words
    ("model.width=0", "model.width"),
    ("train.lr", "KEY=VALUE"),
])
def test_a_bad_assignment_is_a_usage_error_naming_it(item, words, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path / "r"), "--set", item])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and words in err
    assert not (tmp_path / "r").exists()


def test_set_reaches_the_saved_config_and_wins_over_flags(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--steps", "1", "--limit", "64", "--batch-size", "16", "--width", "8",
                 "--set", "model.width=4", "--set", "train.optimizer=sgd", "--set", "train.alpha=0.25",
                 "--quiet"]) == 0
    cfg = load_config(run / "config.toml")
    assert (cfg.model.width, cfg.train.optimizer, cfg.train.alpha) == (4, "sgd", 0.25)
    # a resumed run takes only the keys that schedule the rest of its training
    assert main(["train", "--out", str(run), "--steps", "1", "--resume", "--set", "model.width=8", "--quiet"]) == 2
    assert main(["train", "--out", str(run), "--steps", "1", "--resume", "--set", "train.lr=5e-4", "--quiet"]) == 0
    assert load_config(run / "config.toml").train.lr == pytest.approx(5e-4)
