"""The family records: one list of names, per-family [model] keys in saved configs, old files load."""

import pytest

from ebm_studio.core.config import RunConfig, config_to_toml, load_config
from ebm_studio.core.errors import ConfigError
from ebm_studio.core.families import all_families, build_model, family, family_names


def test_every_registered_family_is_a_valid_config_and_builds():
    assert family_names()[0] == RunConfig().model.family
    for rec in all_families():
        cfg = RunConfig().with_overrides(**{"model.family": rec.name, "model.hidden": [8, 8]})
        assert family(cfg.model.family) is rec
        assert sum(p.numel() for p in build_model(cfg).parameters()) > 0
    with pytest.raises(ConfigError, match="model.family must be one of conv, rbm"):
        RunConfig().with_overrides(**{"model.family": "gan"})
    with pytest.raises(ConfigError, match="model.family"):
        family("gan")


def test_capabilities_replace_name_checks():
    conv, rbm, vae = family("conv"), family("rbm"), family("vae")
    assert conv.langevin and conv.guidable and conv.has_chain and conv.compile_job is not None
    assert rbm.gibbs and rbm.ais and rbm.receptive_fields and not rbm.guidable
    assert not vae.has_chain and not vae.energy_model and not vae.clampable
    assert family_names(energy_models_only=True) == ("conv", "rbm", "hopfield", "sparse-rbm", "dbm")


def test_saved_model_section_holds_only_the_familys_keys(tmp_path):
    conv = config_to_toml(RunConfig())
    assert "width = 48" in conv and "latent" not in conv and "coupling_layers" not in conv and "hidden" not in conv
    rbm = config_to_toml(RunConfig().with_overrides(**{"model.family": "rbm"}))
    assert "hidden" in rbm and "width" not in rbm and "latent" not in rbm
    flow = config_to_toml(RunConfig().with_overrides(**{"model.family": "flow"}))
    assert "coupling_layers" in flow and "latent" not in flow
    path = tmp_path / "config.toml"
    path.write_text(rbm)
    assert load_config(path) == RunConfig().with_overrides(**{"model.family": "rbm"})  # unused keys: defaults


def test_an_old_file_with_every_models_keys_still_loads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[model]\nfamily = "conv"\nwidth = 64\nhidden = [200]\nlatent = 20\ncoupling_layers = 8\n')
    cfg = load_config(path)
    assert cfg.model.width == 64 and cfg.model.latent == 20
    assert cfg.model.noise_conditional is False  # a file from before the key existed keeps its old meaning
