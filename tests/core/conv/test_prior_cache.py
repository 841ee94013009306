"""The base energy's fit, kept between runs: the same buffers to the bit, refitted when the data,
seed or sizes differ or the file is damaged, and never in the way when the cache cannot be used."""

import torch

from ebm_studio.core.conv.mixture_prior import MixturePrior
from ebm_studio.core.conv.prior_cache import CACHE_ENV, fit_prior


def images(seed=0, n=200):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_a_second_fit_of_the_same_data_is_loaded_not_refitted(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = MixturePrior(4, 3)
    assert fit_prior(first, images(), seed=1) is False  # fitted, and stored
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    again = MixturePrior(4, 3)
    monkeypatch.setattr(again, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("refitted")))
    assert fit_prior(again, images(), seed=1) is True
    for (k, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k


def test_other_data_seed_or_sizes_are_fitted_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    fit_prior(MixturePrior(4, 3), images(), seed=1)
    assert fit_prior(MixturePrior(4, 3), images(seed=5), seed=1) is False  # other images
    assert fit_prior(MixturePrior(4, 3), images(), seed=2) is False  # other seed
    assert fit_prior(MixturePrior(5, 3), images(), seed=1) is False  # other sizes
    assert len(list(tmp_path.glob("*.safetensors"))) == 4


def test_a_damaged_file_is_refitted_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    reference = MixturePrior(4, 3)
    fit_prior(reference, images(), seed=1)
    (path,) = tmp_path.glob("*.safetensors")
    path.write_bytes(b"\x00" * 40)
    prior = MixturePrior(4, 3)
    assert fit_prior(prior, images(), seed=1) is False
    assert torch.equal(prior.mean, reference.mean)
    assert fit_prior(MixturePrior(4, 3), images(), seed=1) is True  # rewritten whole


def test_an_empty_setting_or_an_unwritable_folder_only_costs_the_time(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "")
    assert fit_prior(MixturePrior(4, 3), images(), seed=1) is False
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocked / "cache"))
    prior = MixturePrior(4, 3)
    assert fit_prior(prior, images(), seed=1) is False and float(prior.residual.min()) > 0
