"""Property-based fuzzing of every loader: each input either loads or raises EbmStudioError.

Never another exception, never a hang. The nastiest hand-made cases live in tests/reliability/corpus/ and are
replayed by ``test_corpus`` (file name prefix says which loader: idx_, img_, ckpt_, toml_).
"""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ebm_studio.core.checkpoint import load_run, load_tensors, save_run
from ebm_studio.core.config import RunConfig, load_config
from ebm_studio.core.errors import EbmStudioError
from ebm_studio.core.idx import parse_idx
from ebm_studio.core.images import load_digit_image

CORPUS = Path(__file__).parent / "corpus"
FAST = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        if b:
            b[pos % len(b)] = val
    return bytes(b)


def _good_idx() -> bytes:
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    return bytes([0, 0, 8, 3]) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt") / "run"
    cfg = RunConfig().with_overrides(**{"model.width": 2})
    from ebm_studio.core.families import build_model

    save_run(d, build_model(cfg), cfg)
    return d


@FAST
@given(st.binary(max_size=4000))
def test_idx_random_bytes(data):
    try:
        parse_idx(data)
    except EbmStudioError:
        pass


@FAST
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_idx_mutations(edits):
    try:
        arr = parse_idx(_mutate(_good_idx(), edits))
        assert arr.ndim >= 1
    except EbmStudioError:
        pass


@FAST
@given(st.binary(max_size=3000))
def test_image_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("img") / "x.png"
    p.write_bytes(data)
    try:
        img = load_digit_image(p)
        assert img.shape == (28, 28) and np.isfinite(img).all()
    except EbmStudioError:
        pass


def _png_bytes(mode="L", size=(40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, format="PNG")
    return buf.getvalue()


@FAST
@given(st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "I;16", "1", "CMYK"]),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_image_mutations(tmp_path_factory, mode, edits):
    from PIL import Image

    buf = io.BytesIO()
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    Image.new(mode, (33, 21), 200 if mode != "1" else 1).save(buf, format=fmt)
    p = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    p.write_bytes(_mutate(buf.getvalue(), edits))
    try:
        img = load_digit_image(p)
        assert img.shape == (28, 28) and np.isfinite(img).all()
    except EbmStudioError:
        pass


@FAST
@given(st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), min_size=1, max_size=8))
def test_checkpoint_mutations(good_checkpoint, tmp_path_factory, edits):
    d = tmp_path_factory.mktemp("mut") / "run"
    d.mkdir()
    (d / "config.toml").write_bytes((good_checkpoint / "config.toml").read_bytes())
    (d / "model.safetensors").write_bytes(_mutate((good_checkpoint / "model.safetensors").read_bytes(), edits))
    try:
        run = load_run(d)
        assert all(torch.isfinite(v).all() for v in run.model.state_dict().values())
    except EbmStudioError:
        pass


@FAST
@given(st.binary(max_size=2000))
def test_safetensors_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("st") / "x.safetensors"
    p.write_bytes(data)
    try:
        load_tensors(p)
    except EbmStudioError:
        pass


toml_values = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=8), st.booleans(), st.lists(st.integers(-5, 500), max_size=3))


@FAST
@given(st.dictionaries(st.sampled_from(["model", "sampler", "train", "data", "junk"]),
                       st.dictionaries(st.sampled_from(["width", "family", "steps", "lr", "batch_size", "digits",
                                                        "sigma_min", "sigma_max", "hidden", "seed", "noise", "x"]),
                                       toml_values, max_size=4), max_size=4))
def test_config_random_values(tmp_path_factory, raw):
    import tomli_w

    p = tmp_path_factory.mktemp("cfg") / "c.toml"
    try:
        p.write_text(tomli_w.dumps(raw))
    except (TypeError, ValueError):
        return
    try:
        cfg = load_config(p)
        cfg.validate()
    except EbmStudioError:
        pass


@FAST
@given(st.text(max_size=300))
def test_config_random_text(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("cfg") / "c.toml"
    p.write_text(text)
    try:
        load_config(p)
    except EbmStudioError:
        pass


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*")), ids=lambda p: p.name)
def test_corpus(path, tmp_path):
    kind = path.name.split("_")[0]
    with pytest.raises(EbmStudioError):
        if kind == "idx":
            parse_idx(path.read_bytes())
        elif kind == "img":
            load_digit_image(path)
        elif kind == "ckpt":
            load_tensors(path)
        elif kind == "toml":
            load_config(path)
        else:
            raise AssertionError(f"unknown corpus kind {kind}")
