"""Every file the project reads goes through one guarded entry: each bad file is one EbmStudioError
naming the file and the problem, never a traceback, a hang or a huge allocation (issue #24)."""

import os
import struct

import numpy as np
import pytest
import torch

from ebm_studio.core.array_files import load_samples_npy
from ebm_studio.core.config import load_config
from ebm_studio.core.errors import CheckpointError, ConfigError, DataError, EbmStudioError
from ebm_studio.core.files import regular_file
from ebm_studio.core.idx import read_idx
from ebm_studio.core.images import load_digit_image
from ebm_studio.core.metrics_log import MetricsError, MetricsLog, read_metrics
from ebm_studio.core.tensor_files import CHECKSUM_KEY, load_tensors, save_tensors

HEADER = "step,epoch,loss,grad_norm,e_data,e_samples,seconds,lr,event\n"


def _toml(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text", [
    "[model]\nhidden = " + "[" * 5000 + "]" * 5000 + "\n",
    "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "[model]\n" + ".".join(["a"] * 100_000) + " = 1\n",
    "[" + ".".join(["t"] * 50_000) + "]\n",
    'x = {' + ", ".join(f'"k{i}" = {{ a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q = 1 }}' for i in range(3)) + "}\n",
], ids=["deep-array", "deep-inline", "deep-dotted", "deep-header", "dotted-in-inline"])
def test_deep_toml_is_refused_before_parsing(tmp_path, text):
    with pytest.raises(ConfigError, match="c.toml"):
        load_config(_toml(tmp_path, text))


@pytest.mark.parametrize("text,needle", [
    ("[train]\nseed = 1e14\n", "train.seed"),
    ("[train]\nseed = 100000000000000\n", "train.seed"),
    ("[train]\nseed = 18446744073709551615\n", "train.seed"),
    ('[model]\nfamily = "vae"\nhidden = [100000]\n', "model.hidden"),
])
def test_config_values_out_of_range(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(_toml(tmp_path, text))


def test_ordinary_config_still_loads(tmp_path):
    cfg = load_config(_toml(tmp_path, '[model]\nfamily = "rbm"\nhidden = [200, 100]\n[train]\nlr = 0.01\n'))
    assert cfg.model.hidden == [200, 100] and cfg.train.lr == 0.01


@pytest.mark.parametrize("kind", ["fifo", "dir", "device"])
def test_special_files_are_refused_without_opening(tmp_path, kind):
    p = tmp_path / "x.png"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "dir":
        p.mkdir()
    else:
        p = "/dev/zero"
    with pytest.raises(DataError, match="FIFO|folder|device"):
        regular_file(p, DataError, "an image")
    with pytest.raises(DataError):
        load_digit_image(p)  # a FIFO here used to block forever
    with pytest.raises(EbmStudioError):
        load_config(p)
    with pytest.raises(EbmStudioError):
        read_idx(p)


@pytest.mark.parametrize("data", [
    os.urandom(512),
    (HEADER + "1,0.5,1,1,1,1,0.1,0.01,\n").encode("utf-16"),
    (HEADER + "1,0.5,1\n").encode(),
    (HEADER + "abc,0.5,1,1,1,1,0.1,0.01,\n").encode(),
    (HEADER + "nan,0.5,1,1,1,1,0.1,0.01,\n").encode(),
    (HEADER + "inf,0.5,1,1,1,1,0.1,0.01,\n").encode(),
    (HEADER + "-3,0.5,1,1,1,1,0.1,0.01,\n").encode(),
    (HEADER + "1,0.5,lots,1,1,1,0.1,0.01,\n").encode(),
    b"1,2,3\n",
], ids=["binary", "utf16", "short-row", "step-abc", "step-nan", "step-inf", "step-negative", "text-loss",
        "no-header"])
def test_corrupt_metrics_are_one_error_naming_the_file(tmp_path, data):
    p = tmp_path / "metrics.csv"
    p.write_bytes(data)
    with pytest.raises(MetricsError, match="metrics.csv"):
        read_metrics(p)


def test_unreadable_metrics_are_set_aside_not_deleted(tmp_path):
    p = tmp_path / "metrics.csv"
    p.write_bytes(os.urandom(300))
    original = p.read_bytes()
    log = MetricsLog(p, ["step", "loss"])
    assert log.rows == [] and log.problem and log.set_aside_to is not None
    assert log.set_aside_to.read_bytes() == original and not p.exists()
    log.append({"step": 1, "loss": 0.5})
    log.flush()
    assert read_metrics(p) == [{"step": "1", "loss": "0.5"}]


def test_a_folder_named_metrics_csv_is_set_aside(tmp_path):
    (tmp_path / "metrics.csv").mkdir()
    log = MetricsLog(tmp_path / "metrics.csv", ["step"])
    assert log.set_aside_to is not None and log.set_aside_to.is_dir()


def test_checksum_catches_random_bytes_over_the_tensor_data(tmp_path):
    p = tmp_path / "w.safetensors"
    save_tensors(p, {"w": torch.arange(1000.0)})
    raw = bytearray(p.read_bytes())
    raw[-200:-100] = os.urandom(100)
    p.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum"):
        load_tensors(p)


def test_files_without_a_checksum_still_load(tmp_path):
    from safetensors.torch import save_file

    p = tmp_path / "old.safetensors"
    save_file({"w": torch.ones(3)}, str(p), metadata={"family": "rbm"})
    tensors, meta = load_tensors(p)
    assert torch.equal(tensors["w"], torch.ones(3)) and meta == {"family": "rbm"}


def test_saved_metadata_round_trips_without_the_checksum_key(tmp_path):
    p = tmp_path / "w.safetensors"
    save_tensors(p, {"w": torch.ones(2)}, {"a": "b"})
    _, meta = load_tensors(p)
    assert meta == {"a": "b"} and CHECKSUM_KEY not in meta


def test_an_8mb_metadata_string_is_refused(tmp_path):
    from safetensors.torch import save_file

    p = tmp_path / "big.safetensors"
    save_file({"w": torch.ones(2)}, str(p), metadata={"x": "a" * (8 << 20)})
    with pytest.raises(CheckpointError, match="header"):
        load_tensors(p)
    save_file({"w": torch.ones(2)}, str(p), metadata={"x": "a" * (1 << 20)})
    with pytest.raises(CheckpointError, match="metadata"):
        load_tensors(p)


def test_npy_claiming_petabytes_is_refused_before_allocating(tmp_path):
    p = tmp_path / "s.npy"
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }".ljust(117) + "\n"
    p.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64)
    with pytest.raises(DataError, match="s.npy"):
        load_samples_npy(p)


@pytest.mark.parametrize("arr,needle", [
    (np.zeros((3, 10), np.float32), "shape"),
    (np.full((2, 28, 28), np.nan, np.float32), "NaN"),
    (np.array(["a"]), "dtype"),
    (np.zeros((0, 28, 28), np.float32), "samples"),
])
def test_npy_contents_are_checked(tmp_path, arr, needle):
    p = tmp_path / "s.npy"
    np.save(p, arr)
    with pytest.raises(DataError, match=needle):
        load_samples_npy(p)


def test_good_npy_loads_as_float32_digits(tmp_path):
    p = tmp_path / "s.npy"
    np.save(p, np.ones((4, 784), np.float64))
    out = load_samples_npy(p)
    assert out.shape == (4, 28, 28) and out.dtype == np.float32


def _idx(arr, code):
    dt = {0x0D: ">f4", 0x0E: ">f8", 0x08: ">u1"}[code]
    return bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.astype(dt).tobytes()


@pytest.mark.parametrize("arr,code", [
    (np.where(np.arange(2 * 784).reshape(2, 28, 28) % 2, 3e38, -3e38), 0x0D),
    (np.where(np.arange(2 * 784).reshape(2, 28, 28) % 2, 1e300, -1e300), 0x0E),
])
def test_extreme_float_idx_values_scale_to_finite_pixels(tmp_path, arr, code):
    from ebm_studio.core.data import load_dataset

    p = tmp_path / "x.idx"
    p.write_bytes(_idx(arr, code))
    images = load_dataset(str(p)).images  # used to come out NaN (float32 hi - lo overflowed)
    assert torch.isfinite(images).all() and images.min() == 0 and images.max() == 1


@pytest.mark.parametrize("arr,code", [
    (np.where(np.arange(2 * 784).reshape(2, 28, 28) % 2, 1.7e308, -1.7e308), 0x0E),
    (np.full((2, 28, 28), np.inf), 0x0E),
    (np.full((2, 28, 28), np.nan), 0x0E),
])
def test_unscalable_float_idx_values_are_refused(tmp_path, arr, code):
    from ebm_studio.core.data import load_dataset

    p = tmp_path / "x.idx"
    p.write_bytes(_idx(arr, code))
    with pytest.raises(DataError, match="x.idx"):
        load_dataset(str(p))


def test_a_dataset_of_one_image_is_a_clear_error_for_training(tmp_path):
    from ebm_studio.core.data import MIN_TRAINING_IMAGES, load_dataset

    p = tmp_path / "one.idx"
    p.write_bytes(_idx(np.zeros((1, 28, 28)), 0x08))
    assert len(load_dataset(str(p))) == 1  # fine to look at
    with pytest.raises(DataError, match="at least 2"):
        load_dataset(str(p), min_images=MIN_TRAINING_IMAGES)


def test_a_fifo_inside_a_data_folder_does_not_hang(tmp_path):
    from PIL import Image

    from ebm_studio.core.data import load_dataset

    Image.new("L", (28, 28)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    with pytest.raises(DataError, match="b.png"):
        load_dataset(str(tmp_path))


def test_an_image_full_of_nan_is_refused(tmp_path):
    from PIL import Image

    p = tmp_path / "nan.tiff"
    Image.fromarray(np.full((28, 28), np.nan, np.float32)).save(p)
    with pytest.raises(DataError, match="NaN"):
        load_digit_image(p)


def test_empty_digits_string_is_an_error_not_all_ten():
    from ebm_studio.core.data import normalise_digits

    with pytest.raises(DataError, match="empty"):
        normalise_digits("")
    assert normalise_digits("3, 5") == [3, 5]
