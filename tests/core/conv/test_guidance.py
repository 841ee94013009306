"""Class-conditional sampling by a noise-conditional classifier guide."""

import numpy as np
import pytest
import torch

from ebm_studio.cli import main
from ebm_studio.core.conv.energy import ConvEnergy
from ebm_studio.core.conv.guidance import GuidedEnergy, NoisyDigitClassifier, load_guide, train_guide
from ebm_studio.core.errors import CheckpointError


def test_guided_energy_adds_the_classifier_log_probability_scaled_by_sigma():
    torch.manual_seed(0)
    energy = ConvEnergy(4, noise_conditional=True, gaussian_prior=True)
    guide = NoisyDigitClassifier(4)
    x = torch.rand(3, 1, 28, 28)
    for w in (0.0, 2.5):
        guided = GuidedEnergy(energy, guide, digit=7, scale=w)
        expected = energy(x, 0.4) - w * 0.4 * guide(x, 0.4)[:, 7]
        assert torch.allclose(guided(x, 0.4), expected)
    with pytest.raises(ValueError):
        GuidedEnergy(energy, guide, digit=11)


def test_guide_learns_to_classify_noised_digits(mnist_small):
    test_x, test_y = mnist_small.images[400:], mnist_small.labels[400:]
    steps = train_guide(mnist_small.images[:400], mnist_small.labels[:400], 0.02, 1.0, width=8, batch_size=64, lr=3e-3)
    for guide, record in steps:
        if record.step == 150:
            break
    with torch.no_grad():
        acc = float((guide(test_x, 0.1).argmax(1) == test_y).float().mean())
    assert acc > 0.6, acc  # 10 classes: chance is 0.1


def test_guide_command_and_sampling_by_label(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--width", "4", "--limit", "200", "--steps", "2", "--batch-size", "8",
                 "--quiet"]) == 0
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "x.npy"), "--label", "7"]) != 0
    assert "no class guide" in capsys.readouterr().err
    assert main(["guide", str(run), "--minutes", "0.02", "--width", "4", "--quiet"]) == 0
    guide, info = load_guide(run)
    assert set(info["test_accuracy_by_sigma"]) >= {"0.02", "1"}
    out = tmp_path / "sevens.npy"
    assert main(["sample", str(run), "--n", "4", "--out", str(out), "--label", "7", "--guidance", "3",
                 "--steps", "5"]) == 0
    x = np.load(out)
    assert x.shape == (4, 28, 28) and np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def test_a_corrupt_guide_is_refused_with_a_clear_message(tmp_path):
    (tmp_path / "guide.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(CheckpointError, match="guide.safetensors"):
        load_guide(tmp_path)
    (tmp_path / "other").mkdir()
    with pytest.raises(CheckpointError, match="no class guide"):
        load_guide(tmp_path / "other")
