import gzip
import struct

import numpy as np
import pytest

from ebm_studio.core.data import load_dataset, load_image_folder, load_mnist, normalise_digits
from ebm_studio.core.errors import DataError
from ebm_studio.core.idx import parse_idx, read_idx


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_bundled_mnist_shapes_and_range():
    train = load_mnist("train")
    test = load_mnist("test")
    assert train.images.shape == (60000, 1, 28, 28)
    assert test.images.shape == (10000, 1, 28, 28)
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert sorted(set(test.labels.tolist())) == list(range(10))


def test_digit_filter():
    d = load_mnist("test", digits=[5, 7])
    assert set(d.labels.tolist()) == {5, 7}
    assert len(d) == 892 + 1028  # published MNIST-test counts of 5s and 7s


def test_normalise_digits():
    assert normalise_digits("7, 3,3") == [3, 7]
    assert normalise_digits(None) is None
    with pytest.raises(DataError):
        normalise_digits("3,x")
    with pytest.raises(DataError):
        normalise_digits([10])


def test_idx_roundtrip_gz_and_plain(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    plain = tmp_path / "imgs-idx3-ubyte"
    plain.write_bytes(_idx_bytes(arr))
    gz = tmp_path / "imgs-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx_bytes(arr)))
    assert np.array_equal(read_idx(plain), arr)
    assert np.array_equal(read_idx(gz), arr)


@pytest.mark.parametrize("mutate", [
    lambda b: b"\x01" + b[1:],  # bad magic
    lambda b: b[:2] + b"\x42" + b[3:],  # unknown dtype
    lambda b: b[:-10],  # truncated data
    lambda b: b + b"xx",  # trailing bytes
    lambda b: b[:6],  # truncated header
    lambda b: b"",  # empty
])
def test_idx_bad_files_raise_dataerror(mutate):
    good = _idx_bytes(np.zeros((3, 28, 28)))
    with pytest.raises(DataError):
        parse_idx(mutate(good))


def test_user_idx_file_and_wrong_shape(tmp_path):
    f = tmp_path / "x.idx"
    f.write_bytes(_idx_bytes(np.full((4, 28, 28), 255)))
    d = load_dataset(str(f))
    assert d.images.shape == (4, 1, 28, 28) and float(d.images.max()) == 1.0
    bad = tmp_path / "bad.idx"
    bad.write_bytes(_idx_bytes(np.zeros((4, 10, 10))))
    with pytest.raises(DataError, match="28, 28"):
        load_dataset(str(bad))


def test_png_folder_dataset(tmp_path):
    from PIL import Image

    for i in range(3):
        img = Image.new("RGB", (120, 80), "white")
        img.paste((0, 0, 0), (50, 10, 70, 70))  # a black bar on white: must become white-on-black
        img.save(tmp_path / f"{i}_bar.png")
    (tmp_path / "notes.txt").write_text("ignored")
    d = load_image_folder(tmp_path)
    assert d.images.shape == (3, 1, 28, 28)
    assert d.labels.tolist() == [0, 1, 2]
    img = d.images[0, 0]
    assert float(img[0, 0]) == 0.0  # background black
    assert float(img[14, 14]) > 0.5  # ink in the middle


def test_missing_dataset():
    with pytest.raises(DataError):
        load_dataset("/nonexistent/folder")
