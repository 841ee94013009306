"""The quality meter: its figures must separate real digits from garbage, and its parts be exact."""

import json
import math
import time

import numpy as np
import pytest
import torch

from ebm_studio.core.data import load_mnist
from ebm_studio.core.errors import DataError, EbmStudioError
from ebm_studio.core.quality import QualityReport, classifier_info, coverage_bits, frechet_distance, load_meter, metrics
from ebm_studio.core.resources import CLASSIFIER_DIR


@pytest.fixture(scope="module")
def meter():
    return load_meter()


@pytest.fixture(scope="module")
def real_report(meter):
    idx = torch.randperm(10000, generator=torch.Generator().manual_seed(1))[:1000]
    t0 = time.perf_counter()
    report = meter.evaluate(load_mnist("test").images[idx])
    return report, time.perf_counter() - t0


@pytest.fixture(scope="module")
def noise_report(meter):
    return meter.evaluate(torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))


# --- the shipped files ------------------------------------------------------------------------
def test_shipped_classifier_loads_and_matches_its_recorded_accuracy(meter):
    info = classifier_info()
    assert info["test_accuracy"] >= 0.99
    assert (CLASSIFIER_DIR / "classifier.safetensors").stat().st_size < 1_000_000
    test = load_mnist("test")
    idx = torch.randperm(10000, generator=torch.Generator().manual_seed(2))[:2000]
    with torch.no_grad():
        pred = meter.classifier(test.images[idx]).argmax(1)
    assert (pred == test.labels[idx]).float().mean().item() >= 0.985  # the file is the model that was measured
    assert meter.ref_mu.shape == (128,) and meter.ref_cov.shape == (128, 128)


def test_calibration_is_recorded():
    cal = classifier_info()["calibration"]
    for key in ("mnist-test", "mnist-train", "noise", "zeros", "blobs"):
        assert {"fid", "confidence", "coverage_bits", "nn_distance", "class_histogram"} <= set(cal[key]["1000"])
    assert "| set | n |" in (CLASSIFIER_DIR / "CALIBRATION.md").read_text()


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
def test_missing_or_corrupt_files_raise_a_studio_error(tmp_path, monkeypatch, damage):
    for name in ("classifier.safetensors", "reference_stats.safetensors"):
        data = (CLASSIFIER_DIR / name).read_bytes()
        if damage == "truncated":
            (tmp_path / name).write_bytes(data[: len(data) // 2])
        elif damage == "garbage":
            (tmp_path / name).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}" + data[100:200])
    monkeypatch.setattr(metrics, "CLASSIFIER_DIR", tmp_path)
    with pytest.raises(EbmStudioError):
        load_meter.__wrapped__("cpu")  # bypass the cache


# --- the figures separate real digits from garbage --------------------------------------------
def test_real_digits_score_well(real_report):
    real, seconds = real_report
    assert real.n == 1000 and sum(real.class_histogram) == 1000
    assert real.confidence > 0.9
    assert real.coverage_bits > 3.2
    assert real.fid < 30
    assert 2.0 < real.nn_distance < 7.0  # unseen digits are not copies of training digits
    assert seconds < 30  # includes the nearest-neighbour search over 60,000 images (a few s unloaded)


def test_noise_is_far_from_digits_and_not_confidently_called_a_digit(real_report, noise_report):
    real, _ = real_report
    assert noise_report.fid > 20 * max(real.fid, 1.0)
    assert noise_report.confidence < 0.5
    assert noise_report.nn_distance > 10


def test_blank_images_are_not_confidently_a_digit(meter, real_report):
    blank = meter.evaluate(np.zeros((50, 28, 28), np.float32))
    assert blank.confidence < 0.5
    assert blank.fid > 20 * max(real_report[0].fid, 1.0)


def test_unsure_and_illegible_count_the_malformed_samples_a_mean_hides(meter):
    digits = load_mnist("test").images[:30]
    noise = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    clean, mixed = meter.evaluate(digits), meter.evaluate(torch.cat([digits, noise]))
    assert clean.unsure <= 0.1 and clean.illegible == 0.0
    # a quarter of the set is noise: the judge gives it ~0.1, so it is both unsure and illegible
    assert mixed.illegible == pytest.approx(0.25 + clean.illegible * 0.75, abs=0.03)
    assert mixed.unsure >= mixed.illegible >= 0.2
    assert mixed.confidence > 0.7  # the mean alone still looks respectable


def test_a_single_digit_class_has_no_coverage(meter):
    sevens = load_mnist("test", digits=[7]).images[:300]
    r = meter.evaluate(sevens)
    assert r.coverage_bits < 0.2
    assert r.class_histogram[7] >= 295
    assert r.confidence > 0.9  # confidence alone cannot see mode collapse: that is coverage's job


def test_exact_copies_of_training_images_have_zero_nn_distance(meter):
    train = load_mnist("train").images[:200]
    assert meter.evaluate(train).nn_distance == pytest.approx(0.0, abs=1e-6)
    slightly_moved = torch.roll(train, 1, dims=3)
    assert meter.evaluate(slightly_moved).nn_distance > 1.0
    # measuring training images themselves: skip the identical image, find the next nearest
    assert meter.evaluate(train, exclude_exact_matches=True).nn_distance > 1.0


def test_report_formats(meter):
    x = load_mnist("test").images[:20]
    a, b = meter.evaluate(x), meter.evaluate(x[:, 0].numpy())  # (N,1,28,28) tensor == (N,28,28) array
    assert a == b
    d = json.loads(json.dumps(a.as_dict()))
    assert set(d) == {"n", "fid", "confidence", "coverage_bits", "nn_distance", "class_histogram", "unsure",
                      "illegible"}
    text = str(a)
    assert "classifier-FID" in text and "coverage" in text and "nn-distance" in text and "unsure" in text
    assert len(text.splitlines()) <= 10


# --- the pieces, exactly ----------------------------------------------------------------------
def test_frechet_distance_identical_gaussians_is_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20))
    cov, mu = a @ a.T + 0.1 * np.eye(20), rng.normal(size=20)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-7)
    singular = np.outer(a[0], a[0])  # rank 1, as a collapsed sample set gives
    assert frechet_distance(mu, singular, mu, singular) == pytest.approx(0.0, abs=1e-7)


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    d1, d2 = np.array([1.0, 4.0, 9.0, 0.0]), np.array([4.0, 1.0, 16.0, 2.0])
    m1, m2 = np.zeros(4), np.array([1.0, 2.0, 0.0, -1.0])
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)  # 6 + 1 + 1 + 1 + 2
    assert expected == pytest.approx(11.0)
    assert frechet_distance(m1, np.diag(d1), m2, np.diag(d2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    for _ in range(3):
        a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
        c1, c2 = a @ a.T + 0.01 * np.eye(8), b @ b.T + 0.01 * np.eye(8)
        m1, m2 = rng.normal(size=8), rng.normal(size=8)
        ref = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
        assert frechet_distance(m1, c1, m2, c2) == pytest.approx(ref, rel=1e-6)
        assert frechet_distance(m1, c1, m2, c2) == pytest.approx(frechet_distance(m2, c2, m1, c1), rel=1e-9)


def test_coverage_bits():
    assert coverage_bits([100] * 10) == pytest.approx(math.log2(10))
    assert coverage_bits([0, 0, 7, 0, 0, 0, 0, 0, 0, 0]) == 0.0
    assert coverage_bits([5, 5] + [0] * 8) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [
    np.full((4, 28, 28), np.nan, np.float32),
    np.concatenate([np.zeros((3, 28, 28)), np.full((1, 28, 28), np.inf)]),
    np.zeros((4, 27, 28), np.float32),
    np.zeros((4, 2, 28, 28), np.float32),
    np.zeros((28, 28), np.float32),
    np.zeros((1, 28, 28), np.float32),
    np.full((4, 28, 28), 255.0, np.float32),
    -np.ones((4, 28, 28), np.float32),
    np.array([["a"]]),
    [[0.0] * 28] * 28,
], ids=["nan", "inf", "27x28", "2-channel", "single-2d", "n=1", "0..255", "[-1,0]", "strings", "list"])
def test_bad_input_raises_data_error(meter, bad):
    with pytest.raises(DataError) as info:
        meter.evaluate(bad)
    assert "\n" not in str(info.value)


def test_report_is_a_value():
    r = QualityReport(n=2, fid=1.0, confidence=0.5, coverage_bits=1.0, nn_distance=3.0, class_histogram=[1,
                                                                                                         1] + [0] * 8)
    with pytest.raises(Exception):
        r.fid = 0.0  # frozen: a report cannot be edited after the fact
