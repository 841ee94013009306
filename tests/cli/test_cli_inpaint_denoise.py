"""inpaint / denoise on the command line: the canvas's chain, batch in, one result per image out."""

import numpy as np
import pytest
from PIL import Image

from ebm_studio.cli import main
from ebm_studio.core.data import load_mnist


@pytest.fixture(scope="module")
def digits():
    return load_mnist("test").images[:3, 0].numpy()


def test_inpaint_keeps_the_masked_pixels_and_fills_the_rest(tmp_path, digits):
    tops = digits.copy()
    tops[:, 14:] = 0.0
    np.save(tmp_path / "tops.npy", tops)
    mask = np.zeros((28, 28), np.uint8)
    mask[:14] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "filled.npy"
    assert main(["inpaint", "pretrained", "--image", str(tmp_path / "tops.npy"), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(out), "--steps", "41", "--quiet"]) == 0
    filled = np.load(out)
    assert filled.shape == (3, 28, 28)
    assert np.array_equal(filled[:, :14], tops[:, :14])  # clamped: untouched
    assert filled[:, 14:].sum() > 5.0  # the blank half was drawn in
    # a folder in, one PNG per image out, named as the inputs
    folder = tmp_path / "in"
    folder.mkdir()
    for i, img in enumerate(tops[:2]):
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"d{i}.png")
    assert main(["inpaint", "pretrained", "--image", str(folder), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(tmp_path / "res"), "--steps", "11", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["d0.png", "d1.png"]
    assert Image.open(tmp_path / "res" / "d0.png").size == (28, 28)


def test_denoise_brings_noisy_digits_closer_to_the_clean_ones(tmp_path, digits):
    noisy = digits + 0.3 * np.random.default_rng(0).standard_normal(digits.shape).astype(np.float32)
    np.save(tmp_path / "noisy.npy", noisy)
    out = tmp_path / "clean.npy"
    assert main(["denoise", "pretrained", "--image", str(tmp_path / "noisy.npy"), "--sigma", "0.3",
                 "--out", str(out), "--steps", "41", "--quiet"]) == 0
    denoised = np.load(out)
    assert ((denoised - digits) ** 2).mean() < 0.3 * ((noisy - digits) ** 2).mean()
    # the mean of several chains per image: one result per image still, not one per chain
    assert main(["denoise", "pretrained", "--image", str(tmp_path / "noisy.npy"), "--sigma", "0.3", "--chains", "3",
                 "--out", str(out), "--steps", "41", "--quiet"]) == 0
    averaged = np.load(out)
    assert averaged.shape == (3, 28, 28) and not np.array_equal(averaged, denoised)
    assert ((averaged - digits) ** 2).mean() < 0.3 * ((noisy - digits) ** 2).mean()


def test_canvas_commands_refuse_what_they_cannot_do(tmp_path, capsys, digits):
    np.save(tmp_path / "x.npy", digits)
    assert main(["denoise", "pretrained", "--image", str(tmp_path / "x.npy"), "--sigma", "0.3",
                 "--out", str(tmp_path / "one.png")]) == 2  # three results do not fit one PNG
    assert "folder or a .npy" in capsys.readouterr().err
    np.save(tmp_path / "masks.npy", np.ones((2, 28, 28), np.float32))
    assert main(["inpaint", "pretrained", "--image", str(tmp_path / "x.npy"), "--mask", str(tmp_path / "masks.npy"),
                 "--out", str(tmp_path / "o.npy")]) == 2
    assert "2 masks for 3 images" in capsys.readouterr().err


def test_denoise_mmse_is_the_least_squares_estimate_in_one_evaluation(tmp_path, digits, capsys):
    rng = np.random.default_rng(1)
    noisy = digits + 0.3 * rng.standard_normal(digits.shape).astype(np.float32)
    np.save(tmp_path / "noisy.npy", noisy)
    out = tmp_path / "mmse.npy"
    assert main(["denoise", "pretrained", "--image", str(tmp_path / "noisy.npy"), "--sigma", "0.3", "--mmse",
                 "--out", str(out), "--quiet"]) == 0
    mmse = np.load(out)
    assert mmse.shape == (3, 28, 28) and 0 <= mmse.min() and mmse.max() <= 1
    assert ((mmse - digits) ** 2).mean() < 0.3 * ((noisy - digits) ** 2).mean()
    assert main(["denoise", "pretrained", "--image", str(tmp_path / "noisy.npy"), "--sigma", "0.3", "--mmse",
                 "--out", str(tmp_path / "again.npy"), "--quiet", "--seed", "5"]) == 0
    assert np.array_equal(np.load(tmp_path / "again.npy"), mmse)  # an estimate, not a sample: no randomness
    assert main(["denoise", "pretrained:rbm", "--image", str(tmp_path / "noisy.npy"), "--sigma", "0.3", "--mmse",
                 "--out", str(tmp_path / "rbm.npy"), "--quiet"]) == 2
    assert "noise-conditional" in capsys.readouterr().err


def test_inpaint_guidance_flag_changes_the_completion_and_refuses_bad_weights(tmp_path, capsys, digits):
    tops = digits[:2].copy()
    tops[:, 14:] = 0.0
    np.save(tmp_path / "tops.npy", tops)
    mask = np.zeros((28, 28), np.float32)
    mask[:14] = 1.0
    np.save(tmp_path / "mask.npy", mask[None])
    args = ["inpaint", "pretrained", "--image", str(tmp_path / "tops.npy"), "--mask", str(tmp_path / "mask.npy"),
            "--steps", "21", "--chains", "1", "--quiet", "--out"]
    assert main(args + [str(tmp_path / "plain.npy"), "--guidance", "0"]) == 0
    assert main(args + [str(tmp_path / "default.npy")]) == 0  # the model's sampler.inpaint_guidance
    assert main(args + [str(tmp_path / "strong.npy"), "--guidance", "4"]) == 0
    plain, default, strong = (np.load(tmp_path / f"{n}.npy") for n in ("plain", "default", "strong"))
    assert np.array_equal(default, strong)  # a model without the key in its config takes the default weight, 4
    assert not np.allclose(plain, strong, atol=1e-3)
    assert np.array_equal(plain[:, :14], tops[:, :14]) and np.array_equal(strong[:, :14], tops[:, :14])
    with pytest.raises(SystemExit):
        main(args + [str(tmp_path / "bad.npy"), "--guidance", "-1"])
    assert "non-negative" in capsys.readouterr().err
    assert main(args + [str(tmp_path / "bad.npy"), "--guidance", "5000"]) == 2
    assert "inpaint_guidance" in capsys.readouterr().err
