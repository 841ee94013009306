import json
import math

import numpy as np
import pytest
import torch

from ebm_studio.core.data import load_mnist
from ebm_studio.core.errors import DataError
from ebm_studio.core.quality import classifier_info, frechet_distance, load_meter


@pytest.fixture(scope="module")
def meter():
    return load_meter()


@pytest.fixture(scope="module")
def test_images():
    return load_mnist("test").images[:500]


def test_shipped_classifier_accuracy():
    assert classifier_info()["test_accuracy"] >= 0.99


def test_real_digits_score_well_and_noise_badly(meter, test_images):
    real = meter.evaluate(test_images)
    noise = meter.evaluate(torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert real.confidence > 0.9
    assert real.coverage_bits > 3.2
    assert sum(real.class_histogram) == 500
    assert noise.fid > 20 * max(real.fid, 1.0)
    assert real.nn_distance > 2.0  # test digits are not copies of training digits


def test_single_class_has_no_coverage(meter):
    d = load_mnist("test", digits=[7]).images[:200]
    r = meter.evaluate(d)
    assert r.coverage_bits < 0.3
    assert r.class_histogram[7] >= 190


def test_memorised_copies_have_zero_nn_distance(meter):
    train = load_mnist("train").images[:100]
    assert meter.evaluate(train).nn_distance < 0.05  # float cancellation leaves ~1e-3
    assert meter.evaluate(train, exclude_exact_matches=True).nn_distance > 1.0


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + np.eye(5)
    mu = rng.normal(size=5)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)
    d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    m1, m2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(m1, np.diag(d1), m2, np.diag(d2)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("bad", [
    np.full((4, 28, 28), np.nan, np.float32),
    np.zeros((4, 27, 28), np.float32),
    np.zeros((1, 28, 28), np.float32),
    np.full((4, 28, 28), 5.0, np.float32),
    np.array([["a"]]),
])
def test_bad_input_raises(meter, bad):
    with pytest.raises(DataError):
        meter.evaluate(bad)


def test_cli_evaluate_npy(tmp_path, capsys):
    from ebm_studio.cli import main

    p = tmp_path / "s.npy"
    np.save(p, load_mnist("test").images[:50, 0].numpy())
    assert main(["evaluate", str(p), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 50 and out["confidence"] > 0.9 and math.isfinite(out["fid"])
