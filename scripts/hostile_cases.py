"""The cases of the hostile corpus, by kind of input (see hostile_corpus.py for the builder)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
from hostile_corpus import BASE_ARGS, TRAIN1, flip_bits, idx_bytes, png_bytes, rewrite_st, st_bytes

CHECKSUM = "ebm-studio.checksum"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def add_weights(b) -> None:
    good = (b.base / "model.safetensors").read_bytes()
    W = np.zeros((784, 16), np.float32)
    bad_files = {
        "empty": b"",
        "short": good[:5],
        "trunc_header": good[:40],
        "trunc_half": good[: len(good) // 2],
        "trunc_last": good[:-1],
        "extra_byte": good + b"\0",
        "huge_header_len": (10**15).to_bytes(8, "little") + good[8:],
        "zero_header_len": (0).to_bytes(8, "little") + good[8:],
        "header_not_json": (20).to_bytes(8, "little") + b"{not json at all!!!}" + good[28:],
        "header_list": (2).to_bytes(8, "little") + b"[]",
        "pickle": b"\x80\x04\x95" + b"cos\nsystem\n(S'echo pwned'\ntR." * 3,
        "zip": b"PK\x03\x04" + b"\0" * 100,
        "meta_8mb": st_bytes({"W": W}, {"x": "a" * (8 << 20)}),
        "meta_not_str": st_bytes({"W": W}, header_extra={"__metadata__": {"a": 1}}),
        "wrong_shape": st_bytes({"W": np.zeros((16, 784), np.float32), "b": np.zeros(784, np.float32),
                                 "c": np.zeros(16, np.float32)}, {"family": "rbm"}),
        "wrong_dtype": st_bytes({"W": np.zeros((784, 16), np.int64), "b": np.zeros(784, np.float32),
                                 "c": np.zeros(16, np.float32)}, {"family": "rbm"}),
        "missing_key": st_bytes({"W": W, "b": np.zeros(784, np.float32)}, {"family": "rbm"}),
        "extra_key": st_bytes({"W": W, "b": np.zeros(784, np.float32), "c": np.zeros(16, np.float32),
                               "evil": np.zeros(3, np.float32)}, {"family": "rbm"}),
        "nan_weights": st_bytes({"W": np.full((784, 16), np.nan, np.float32), "b": np.zeros(784, np.float32),
                                 "c": np.zeros(16, np.float32)}, {"family": "rbm"}),
        "other_family": st_bytes({"W": W, "b": np.zeros(784, np.float32), "c": np.zeros(16, np.float32)},
                                 {"family": "vae"}),
        "offsets_out": st_bytes({"W": W}, header_extra={"W": {"dtype": "F32", "shape": [784, 16],
                                                              "data_offsets": [0, 10**12]}}),
        "negative_shape": st_bytes({"W": W}, header_extra={"W": {"dtype": "F32", "shape": [-1, 16],
                                                                 "data_offsets": [0, 784 * 64]}}),
        "complex": st_bytes({"W": np.zeros((784, 16), np.complex64), "b": np.zeros(784, np.float32),
                             "c": np.zeros(16, np.float32)}, {"family": "rbm"}),
        "random_data": good[:100] + os.urandom(len(good) - 100),
    }
    for name, data in bad_files.items():
        run = b.run_copy(f"weights-{name}")
        (run / "model.safetensors").write_bytes(data)
        b.add(f"weights-{name}-info", "weights", ["info", run], expect="error")
        b.add(f"weights-{name}-sample", "weights", ["sample", run, "--n", "2", "--out", run.parent / "o.npy"],
              expect="error")
    for i in range(60):
        run = b.run_copy(f"weights-flip{i}")
        (run / "model.safetensors").write_bytes(flip_bits(good, b.rng, 1 + i % 4))
        b.add(f"weights-flip{i}-info", "weights", ["info", run])
    for i in range(15):
        run = b.run_copy(f"weights-cut{i}")
        (run / "model.safetensors").write_bytes(good[: b.rng.randrange(len(good))])
        b.add(f"weights-cut{i}-info", "weights", ["info", run], expect="error")
    run = b.run_copy("weights-dir")
    (run / "model.safetensors").unlink()
    (run / "model.safetensors").mkdir()
    b.add("weights-dir-info", "weights", ["info", run], expect="error")
    run = b.run_copy("weights-fifo")
    (run / "model.safetensors").unlink()
    _fifo(run / "model.safetensors")
    b.add("weights-fifo-info", "weights", ["info", run], expect="error")
    run = b.run_copy("weights-huge")

    def huge(t, m):
        t["W"] = np.full_like(t["W"], 1e30)
        m.pop(CHECKSUM, None)
    rewrite_st(run / "model.safetensors", huge)
    b.add("weights-1e30-sample", "weights", ["sample", run, "--n", "4", "--out", run.parent / "o.npy"])
    from ebm_studio.core.models_io import pretrained_path

    conv = b.folder("weights-conv-1e30") / "run"  # the shipped conv model with weights of 1e30: samples NaN
    shutil.copytree(pretrained_path(), conv, ignore=shutil.ignore_patterns("guide*", "trainer*", "*.png"))

    def conv_huge(t, m):
        for k in list(t):
            if t[k].dtype.kind == "f" and t[k].ndim >= 2 and not k.startswith("prior"):
                big = min(1e30, float(np.finfo(t[k].dtype).max) / 4)
                t[k] = (np.sign(t[k]) * big).astype(t[k].dtype)
        m.pop(CHECKSUM, None)
    rewrite_st(conv / "model.safetensors", conv_huge)
    b.add("weights-conv-1e30-sample", "weights", ["sample", conv, "--n", "2", "--steps", "5",
                                                  "--out", conv.parent / "o.npy"], expect="error")


def add_trainer(b) -> None:
    good = (b.base / "trainer.safetensors").read_bytes()
    edits = {
        "moments_shape": lambda t, m: t.__setitem__("optim.0.exp_avg", np.zeros(3, np.float32)),
        "moments_complex": lambda t, m: t.__setitem__("optim.0.exp_avg", np.zeros((784, 16), np.complex64)),
        "moments_nan": lambda t, m: t.__setitem__("optim.1.exp_avg", np.full(784, np.nan, np.float32)),
        "moments_extra_pid": lambda t, m: t.__setitem__("optim.9.exp_avg", np.zeros(3, np.float32)),
        "chains_shape": lambda t, m: t.__setitem__("extra.chains", np.zeros((100, 3), np.float32)),
        "rng_short": lambda t, m: t.__setitem__("rng", np.zeros(7, np.uint8)),
        "base_lr_nan": lambda t, m: t.__setitem__("extra.base_lr", np.array(np.nan, np.float32)),
        "base_lr_huge": lambda t, m: t.__setitem__("extra.base_lr", np.array(1e9, np.float32)),
    }

    def meta_edit(fn):
        def edit(t, m):
            import json

            meta = json.loads(m["meta"])
            fn(meta)
            m["meta"] = json.dumps(meta)
        return edit
    metas = {
        "step_negative": lambda d: d.__setitem__("step", -5),
        "step_float": lambda d: d.__setitem__("step", 2.5),
        "step_huge": lambda d: d.__setitem__("step", 10**30),
        "meta_lr_nan": lambda d: d.__setitem__("base_lr", float("nan")),
        "meta_lr_1e9": lambda d: d.__setitem__("base_lr", 1e9),
        "meta_lr_negative": lambda d: d.__setitem__("base_lr", -1.0),
        "groups_two": lambda d: d.__setitem__("param_groups", d["param_groups"] * 2),
        "groups_size": lambda d: d["param_groups"][0].__setitem__("params", [0, 1]),
        "groups_none": lambda d: d.__setitem__("param_groups", None),
        "group_lr_nan": lambda d: d["param_groups"][0].__setitem__("lr", float("nan")),
        "group_sgd": lambda d: (d["param_groups"][0].pop("betas"), d["param_groups"][0].__setitem__("momentum", 0.9)),
        "recoveries_bad": lambda d: d.__setitem__("recoveries", "many"),
    }
    for name, fn in {**edits, **{k: meta_edit(v) for k, v in metas.items()}}.items():
        run = b.run_copy(f"trainer-{name}")

        def edit(t, m, fn=fn):
            fn(t, m)
            m.pop(CHECKSUM, None)
        rewrite_st(run / "trainer.safetensors", edit)
        _trainer_cases(b, name, run)
    for name, data in {"flip": flip_bits(good, b.rng, 3), "trunc": good[: len(good) // 3], "empty": b"",
                       "garbage": os.urandom(4096)}.items():
        run = b.run_copy(f"trainer-{name}")
        (run / "trainer.safetensors").write_bytes(data)
        _trainer_cases(b, name, run)
    run = b.run_copy("trainer-stale")  # a kill between the weights' and the trainer's write

    def stale(t, m):
        import json

        meta = json.loads(m["meta"])
        meta["step"] = 1
        m["meta"], m["step"] = json.dumps(meta), "1"
        m.pop(CHECKSUM, None)
    rewrite_st(run / "trainer.safetensors", stale)
    # not an error: the run goes on from the newer weights with a new optimiser, and says so
    _trainer_cases(b, "stale", run, resume_expect="ok", resume_says="new optimiser")


def _trainer_cases(b, name: str, run: Path, resume_expect: str = "error",
                   resume_says: str = "trainer.safetensors") -> None:
    b.add(f"trainer-{name}-resume", "trainer", ["train", "--out", run, "--resume", *TRAIN1], expect=resume_expect,
          run_dir=run, must_say=resume_says)
    b.add(f"trainer-{name}-info", "trainer", ["info", run], expect="ok", run_dir=run)
    b.add(f"trainer-{name}-fresh", "trainer", ["train", "--out", run, "--resume", "--fresh-optimizer", *TRAIN1],
          expect="ok", run_dir=run)


def add_metrics(b) -> None:
    header = "step,epoch,loss,grad_norm,e_data,e_samples,seconds,lr,event\n"
    bad = {
        "binary": os.urandom(2048),
        "utf16": (header + "1,0.5,1,1,1,1,0.1,0.01,\n").encode("utf-16"),
        "nul": (header + "1,0.5,1\x00,1,1,1,0.1,0.01,\n").encode(),
        "short_row": (header + "1,0.5,1\n").encode(),
        "long_row": (header + "1,0.5,1,1,1,1,0.1,0.01,,x,y\n").encode(),
        "step_abc": (header + "abc,0.5,1,1,1,1,0.1,0.01,\n").encode(),
        "step_nan": (header + "nan,0.5,1,1,1,1,0.1,0.01,\n").encode(),
        "step_inf": (header + "inf,0.5,1,1,1,1,0.1,0.01,\n").encode(),
        "step_neg": (header + "-4,0.5,1,1,1,1,0.1,0.01,\n").encode(),
        "step_1e300": (header + "1e300,0.5,1,1,1,1,0.1,0.01,\n").encode(),
        "no_header": b"1,2,3\n4,5,6\n",
        "quote": (header + '1,"0.5,1,1\n').encode(),
        "loss_text": (header + "1,0.5,lots,1,1,1,0.1,0.01,\n").encode(),
        "empty": b"",
    }
    for name, data in bad.items():
        run = b.run_copy(f"metrics-{name}")
        (run / "metrics.csv").write_bytes(data)
        _metrics_cases(b, name, run)
    run = b.run_copy("metrics-dir")
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").mkdir()
    _metrics_cases(b, "dir", run)
    run = b.run_copy("metrics-fifo")
    (run / "metrics.csv").unlink()
    _fifo(run / "metrics.csv")
    _metrics_cases(b, "fifo", run)


def _metrics_cases(b, name: str, run: Path) -> None:
    b.add(f"metrics-{name}-info", "metrics", ["info", run], expect="ok", run_dir=run)
    b.add(f"metrics-{name}-resume", "metrics", ["train", "--out", run, "--resume", *TRAIN1], expect="ok", run_dir=run)


def add_config(b) -> None:
    from ebm_studio.core.config import RunConfig

    raw = RunConfig().to_dict()
    values = ['"x"', "[1, 2]", "99999999999999999999999", "-1", "nan", "inf", "1e308", "{a = 1}"]
    for section, fields in raw.items():
        for key in fields:
            for i, v in enumerate(values):
                if b.rng.random() < 0.5:  # half the matrix: the other half adds little
                    continue
                d = b.folder(f"config-{section}-{key}-{i}")
                (d / "c.toml").write_text(f"[{section}]\n{key} = {v}\n")
                b.add(f"config-{section}-{key}-{i}", "config",
                      ["train", "--out", d / "run", "--config", d / "c.toml", *BASE_ARGS[:-1], *TRAIN1])
    texts = {
        "deep_array": "[model]\nhidden = " + "[" * 5000 + "]" * 5000 + "\n",
        "deep_inline": "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
        "deep_dotted": "[model]\n" + ".".join(["a"] * 100000) + " = 1\n",
        "deep_header": "[" + ".".join(["t"] * 50000) + "]\n",
        "seed_1e14": "[train]\nseed = 1e14\n",
        "seed_big": "[train]\nseed = 100000000000000\n",
        "seed_2_64": "[train]\nseed = 18446744073709551615\n",
        "hidden_huge": '[model]\nfamily = "vae"\nhidden = [100000]\n',
        "source_passwd": '[data]\nsource = "/etc/passwd"\n',
        "source_missing": '[data]\nsource = "/no/such/folder"\n',
        "source_devzero": '[data]\nsource = "/dev/zero"\n',
        "digits_empty": "[data]\ndigits = []\n",
        "digits_11": "[data]\ndigits = [11]\n",
        "unknown_section": "[evil]\nx = 1\n",
        "top_level_key": "x = 1\n",
        "duplicate": "[train]\nlr = 1\nlr = 2\n",
        "not_toml": "this is not toml\n",
        "long_string": "[data]\nsource = \"" + "a" * 2_000_000 + "\"\n",
    }
    for name, text in texts.items():
        d = b.folder(f"config-text-{name}")
        (d / "c.toml").write_text(text)
        b.add(f"config-text-{name}", "config", ["train", "--out", d / "run", "--config", d / "c.toml", *TRAIN1],
              expect="error")
        run = b.run_copy(f"config-run-{name}")
        (run / "config.toml").write_text(text)
        b.add(f"config-run-{name}-info", "config", ["info", run], expect="error")
    for name, data in {"binary": os.urandom(1000), "utf16": "[train]\nlr = 0.1\n".encode("utf-16")}.items():
        d = b.folder(f"config-bytes-{name}")
        (d / "c.toml").write_bytes(data)
        b.add(f"config-bytes-{name}", "config", ["train", "--out", d / "run", "--config", d / "c.toml", *TRAIN1],
              expect="error")
    d = b.folder("config-fifo")
    b.add("config-fifo", "config", ["train", "--out", d / "run", "--config", _fifo(d / "c.toml"), *TRAIN1],
          expect="error")
    d = b.folder("config-dir")
    (d / "c.toml").mkdir()
    b.add("config-dir", "config", ["train", "--out", d / "run", "--config", d / "c.toml", *TRAIN1], expect="error")
    for name, source in {"passwd": "/etc/passwd", "missing": "/no/such/folder"}.items():
        run = b.run_copy(f"config-source-{name}")
        text = (run / "config.toml").read_text().replace('source = "mnist"', f'source = "{source}"')
        (run / "config.toml").write_text(text)
        b.add(f"config-source-{name}-info", "config", ["info", run], must_say=source)


def add_idx(b) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (8, 28, 28)).astype(np.uint8)
    good = idx_bytes(imgs)
    files = {
        "one_image": idx_bytes(imgs[:1]),
        "bad_magic": b"\1\2" + good[2:],
        "truncated": good[:-100],
        "huge_dims": bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3,
        "zero_dims": bytes([0, 0, 8, 0]),
        "five_dims": bytes([0, 0, 8, 5]) + b"\0\0\0\1" * 5 + b"\0",
        "wrong_shape": idx_bytes(rng.integers(0, 255, (4, 32, 32)).astype(np.uint8)),
        "float_1e38": idx_bytes(np.where(imgs > 128, 3e38, -3e38).astype(np.float32), 0x0D),
        "float_1e300": idx_bytes(np.where(imgs > 128, 1e300, -1e300), 0x0E),
        "float_nan": idx_bytes(np.full((4, 28, 28), np.nan), 0x0E),
        "float_inf": idx_bytes(np.full((4, 28, 28), np.inf, np.float32), 0x0D),
        "float_const": idx_bytes(np.ones((4, 28, 28), np.float32), 0x0D),
        "gz_garbage": b"\x1f\x8b" + os.urandom(500),
        "gz_bomb": gzip.compress(bytes([0, 0, 8, 3]) + b"\0\0\xff\xff\0\0\0\x1c\0\0\0\x1c" + b"\0" * (200 << 20)),
        "text": b"hello world\n" * 10,
        "empty": b"",
    }
    for name, data in files.items():
        d = b.folder(f"idx-{name}")
        (d / "data.idx").write_bytes(data)
        expect = "any" if name in ("float_1e38", "float_1e300", "float_const") else "error"
        b.add(f"idx-{name}", "idx", ["train", "--out", d / "run", "--data", d / "data.idx", *BASE_ARGS[:-3], *TRAIN1],
              expect=expect)
    d = b.folder("idx-fifo")
    b.add("idx-fifo", "idx", ["train", "--out", d / "run", "--data", _fifo(d / "data.idx"), *BASE_ARGS[:-3], *TRAIN1],
          expect="error")
    for name, setup in {
        "one_png": lambda f: (f / "a.png").write_bytes(png_bytes(imgs[0])),
        "fifo_png": lambda f: ((f / "a.png").write_bytes(png_bytes(imgs[0])), _fifo(f / "b.png")),
        "bad_png": lambda f: ((f / "a.png").write_bytes(png_bytes(imgs[0])), (f / "b.png").write_bytes(b"nope")),
        "empty": lambda f: None,
        "dir_png": lambda f: ((f / "a.png").write_bytes(png_bytes(imgs[0])), (f / "b.png").mkdir()),
        "idx_one": lambda f: (f / "train-images-idx3-ubyte").write_bytes(idx_bytes(imgs[:1])),
        "idx_labels_mismatch": lambda f: ((f / "train-images-idx3-ubyte").write_bytes(good),
                                          (f / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, "u1")))),
    }.items():
        d = b.folder(f"folder-{name}")
        (d / "data").mkdir()
        setup(d / "data")
        b.add(f"folder-{name}", "idx", ["train", "--out", d / "run", "--data", d / "data", *BASE_ARGS[:-3], *TRAIN1],
              expect="error")


def add_images(b) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    digit = (rng.random((28, 28)) > 0.7).astype(np.uint8) * 255
    nan = np.full((28, 28), np.nan, np.float32)
    files = {
        "nan_tiff": png_bytes(nan, None, "TIFF"),
        "inf_tiff": png_bytes(np.full((28, 28), np.inf, np.float32), None, "TIFF"),
        "i16": png_bytes(digit.astype(np.uint16) * 200),
        "rgba": png_bytes(np.dstack([digit] * 4)),
        "cmyk": png_bytes(np.dstack([digit] * 4), "CMYK", "JPEG"),
        "one_pixel": png_bytes(np.zeros((1, 1), np.uint8)),
        "tall": png_bytes(np.zeros((4000, 1), np.uint8)),
        "blank": png_bytes(np.zeros((28, 28), np.uint8)),
        "truncated": png_bytes(digit)[:60],
        "text": b"not an image at all",
        "empty": b"",
        "bmp_bomb_header": b"BM" + b"\0" * 16 + (60000).to_bytes(4, "little") * 2 + b"\1\0\x18\0" + b"\0" * 30,
    }
    big = Image.new("1", (20000, 20000))  # 50 KB on disk, 400 M pixels decoded: a decompression bomb
    import io

    buf = io.BytesIO()
    big.save(buf, format="PNG")
    files["bomb"] = buf.getvalue()
    frames = [Image.fromarray(digit), Image.fromarray(255 - digit)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    files["animated"] = buf.getvalue()
    for name, data in files.items():
        d = b.folder(f"image-{name}")
        suffix = {"nan_tiff": ".tiff", "inf_tiff": ".tiff", "cmyk": ".jpg", "animated": ".gif",
                  "bmp_bomb_header": ".bmp"}.get(name, ".png")
        img = d / f"init{suffix}"
        img.write_bytes(data)
        expect = "error" if name in ("nan_tiff", "inf_tiff", "truncated", "text", "empty", "bomb") else "any"
        b.add(f"image-{name}-sample", "image", ["sample", b.base, "--init", img, "--n", "2", "--out", d / "o.npy"],
              expect=expect, run_dir=b.base)
        b.add(f"image-{name}-chain", "image", ["chain", b.base, "--init", img, "--n", "2", "--out", d / "o.png"],
              expect=expect)
    d = b.folder("image-fifo")
    b.add("image-fifo-sample", "image", ["sample", b.base, "--init", _fifo(d / "i.png"), "--n", "2",
                                         "--out", d / "o.npy"], expect="error")
    d = b.folder("image-dir")
    (d / "i.png").mkdir()
    b.add("image-dir-sample", "image", ["sample", b.base, "--init", d / "i.png", "--n", "2", "--out", d / "o.npy"],
          expect="error")


def add_npy(b) -> None:
    import io

    def npy(arr) -> bytes:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        return buf.getvalue()
    good = npy(np.zeros((4, 28, 28), np.float32))
    huge = good.replace(b"(4, 28, 28)", b"(999999999999, 28, 28)".ljust(len(b"(4, 28, 28)")))
    header = b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little")
    claim = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }"
    files = {
        "huge_shape": header + claim.ljust(117) + b"\n" + b"\0" * 64,
        "huge_replace": huge,
        "object": npy(np.array([{"a": 1}], dtype=object)),
        "wrong_shape": npy(np.zeros((4, 10), np.float32)),
        "scalar": npy(np.float32(1)),
        "nan": npy(np.full((4, 28, 28), np.nan, np.float32)),
        "strings": npy(np.array(["a", "b"])),
        "complex": npy(np.zeros((4, 28, 28), np.complex64)),
        "truncated": good[:200],
        "empty": b"",
        "text": b"hello",
        "zero_samples": npy(np.zeros((0, 28, 28), np.float32)),
        "flat": npy(np.zeros((3, 784), np.float32)),
        "npz": b"PK\x03\x04" + os.urandom(64),
    }
    for name, data in files.items():
        d = b.folder(f"npy-{name}")
        (d / "s.npy").write_bytes(data)
        b.add(f"npy-{name}", "npy", ["evaluate", d / "s.npy"],
              expect="any" if name == "flat" else "error")
    d = b.folder("npy-fifo")
    b.add("npy-fifo", "npy", ["evaluate", _fifo(d / "s.npy")], expect="error")
    d = b.folder("npy-dir")
    (d / "s.npy").mkdir()
    b.add("npy-dir", "npy", ["evaluate", d / "s.npy"], expect="error")


def add_arguments(b) -> None:
    d = b.folder("args")
    (d / "file").write_text("x")
    (d / "x.png").mkdir()
    run = b.base
    o = d / "o.npy"
    cases = {
        "grid_1000": ["sample", run, "--n", "4", "--grid", "1000x1000", "--out", d / "g.png"],
        "grid_zero": ["sample", run, "--n", "4", "--grid", "0x5", "--out", d / "g.png"],
        "grid_text": ["sample", run, "--n", "4", "--grid", "axb", "--out", d / "g.png"],
        "n_1e12": ["sample", run, "--n", "1000000000000", "--out", o],
        "n_zero": ["sample", run, "--n", "0", "--out", o],
        "n_negative": ["sample", run, "--n", "-3", "--out", o],
        "n_text": ["sample", run, "--n", "many", "--out", o],
        "chain_n_200000": ["chain", run, "--n", "200000", "--out", d / "c.gif"],
        "chain_every_0": ["chain", run, "--every", "0", "--out", d / "c.gif"],
        "ais_1e9": ["evaluate", run, "--n", "8", "--ais-betas", "1000000000"],
        "vae_hidden_1e5": ["train", "--out", d / "vae", "--model", "vae", "--hidden", "100000", *TRAIN1],
        "rbm_hidden_text": ["train", "--out", d / "r1", "--model", "rbm", "--hidden", "a,b", *TRAIN1],
        "seed_1e14": ["train", "--out", d / "r2", *BASE_ARGS, "--seed", "100000000000000", "--steps", "1"],
        "seed_2_70": ["sample", run, "--n", "2", "--seed", str(2**70), "--out", o],
        "seed_negative": ["sample", run, "--n", "2", "--seed", "-1", "--out", o],
        "digits_empty": ["train", "--out", d / "r3", *BASE_ARGS, "--digits", "", "--steps", "1"],
        "digits_11": ["train", "--out", d / "r4", *BASE_ARGS, "--digits", "11", "--steps", "1"],
        "digits_text": ["train", "--out", d / "r5", *BASE_ARGS, "--digits", "x", "--steps", "1"],
        "lr_nan": ["train", "--out", d / "r6", *BASE_ARGS, "--lr", "nan", "--steps", "1"],
        "lr_inf": ["train", "--out", d / "r7", *BASE_ARGS, "--lr", "inf", "--steps", "1"],
        "lr_100": ["train", "--out", d / "r8", *BASE_ARGS, "--lr", "100", "--steps", "1"],
        "steps_zero": ["train", "--out", d / "r9", *BASE_ARGS, "--steps", "0"],
        "minutes_inf": ["train", "--out", d / "r10", *BASE_ARGS, "--minutes", "inf"],
        "minutes_nan": ["train", "--out", d / "r11", *BASE_ARGS, "--minutes", "nan"],
        "out_file": ["train", "--out", d / "file", *BASE_ARGS, "--steps", "1"],
        "out_under_file": ["train", "--out", d / "file" / "run", *BASE_ARGS, "--steps", "1"],
        "out_dev_null": ["train", "--out", "/dev/null", *BASE_ARGS, "--steps", "1"],
        "out_proc": ["train", "--out", "/proc/version/run", *BASE_ARGS, "--steps", "1"],
        "sample_out_dir_png": ["sample", run, "--n", "2", "--out", d / "x.png"],
        "sample_out_txt": ["sample", run, "--n", "2", "--out", d / "x.txt"],
        "sample_out_under_file": ["sample", run, "--n", "2", "--out", d / "file" / "o.npy"],
        "chain_out_dir": ["chain", run, "--n", "2", "--out", d / "x.png"],
        "guide_out_file": ["guide", run, "--out", d / "file", "--minutes", "0.01"],
        "model_missing": ["sample", d / "missing", "--n", "2", "--out", o],
        "model_dev_null": ["info", "/dev/null"],
        "model_passwd": ["info", "/etc/passwd"],
        "model_root": ["info", "/"],
        "model_long": ["info", "x" * 5000],
        "model_newline": ["info", "a\nb"],
        "model_unicode": ["info", "\u2603" * 50],
        "model_empty": ["info", ""],
        "resume_missing": ["train", "--out", d / "nothing", "--resume", *TRAIN1],
        "resume_file": ["train", "--out", d / "file", "--resume", *TRAIN1],
        "unknown_command": ["explode"],
        "unknown_option": ["info", run, "--evil"],
        "steps_huge": ["sample", run, "--n", "2", "--steps", "99999999999999999", "--out", o],
        "step_size_nan": ["sample", run, "--n", "2", "--step-size", "nan", "--out", o],
        "noise_inf": ["sample", run, "--n", "2", "--noise", "inf", "--out", o],
        "label_on_rbm": ["sample", run, "--n", "2", "--label", "3", "--out", o],
        "compare_bad": ["compare", d / "missing", "--n", "8"],
        "evaluate_missing": ["evaluate", d / "missing.npy"],
    }
    for name, argv in cases.items():
        expect = "any" if name in ("lr_100", "minutes_inf") else "error"
        if name == "minutes_inf":
            continue  # a run without an end: not a case for a timeout-bound harness
        b.add(f"args-{name}", "arguments", argv, expect=expect)
    rbm = b.run_copy("args-rbm-lr10")
    b.add("args-rbm-lr10-resume", "arguments", ["train", "--out", rbm, "--resume", "--lr", "10", "--steps", "20",
                                                "--quiet"], run_dir=rbm)


def add_all(b) -> None:
    add_weights(b)
    add_trainer(b)
    add_metrics(b)
    add_config(b)
    add_idx(b)
    add_images(b)
    add_npy(b)
    add_arguments(b)
