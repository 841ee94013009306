"""Build the hostile corpus: ~600 bad inputs for every CLI command, as files and command lines.

``build_corpus(root)`` trains one tiny base run (an RBM, a few steps), then writes each case's
inputs under ``root/cases/<id>/`` and returns the :class:`hostile_runner.Case` list: corrupt,
bit-flipped and truncated safetensors (weights and trainer state); config TOML with wrong types,
extremes and deep nesting; IDX files; odd images; corrupt metrics; .npy files; odd paths and
arguments. Deterministic for a given seed. Run it with ``benchmarks/hostile.py`` (all cases) or
``tests/reliability/test_hostile_cli.py`` (a sample).

    python scripts/hostile_corpus.py ROOT   # build and list the cases
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_runner import Case  # noqa: E402

BASE_ARGS = ["--model", "rbm", "--hidden", "16", "--limit", "256", "--quiet"]
TRAIN1 = ["--steps", "1", "--quiet"]


def make_base_run(root: Path) -> Path:
    base = root / "base"
    if (base / "model.safetensors").exists() and (base / "trainer.safetensors").exists():
        return base
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "ebm_studio", "train", "--out", str(base), "--steps", "3", *BASE_ARGS],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return base


class Builder:
    def __init__(self, root: Path, base: Path, seed: int):
        self.root, self.base, self.rng = root, base, random.Random(seed)
        self.cases: list[Case] = []
        (root / "cases").mkdir(parents=True, exist_ok=True)

    def folder(self, cid: str) -> Path:
        d = self.root / "cases" / cid
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def run_copy(self, cid: str) -> Path:
        d = self.folder(cid) / "run"
        shutil.copytree(self.base, d, ignore=shutil.ignore_patterns(".run.lock*"))
        return d

    def add(self, cid: str, category: str, argv: list[str], expect: str = "any", run_dir: Path | None = None,
            must_say: str | None = None) -> None:
        self.cases.append(Case(cid, category, [str(a) for a in argv], expect,
                               str(run_dir) if run_dir else None, must_say=must_say))


# --- byte-level mutations ----------------------------------------------------------------------
def flip_bits(data: bytes, rng: random.Random, n: int) -> bytes:
    b = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def st_bytes(tensors: dict[str, np.ndarray], metadata: dict | None = None, header_extra: dict | None = None) -> bytes:
    """A safetensors file written by hand-assembling the header (to make malformed ones)."""
    header, offset, blobs = {}, 0, []
    for k, v in tensors.items():
        raw = np.ascontiguousarray(v).tobytes()
        dt = {"float32": "F32", "float64": "F64", "int64": "I64", "uint8": "U8", "complex64": "C64"}[str(v.dtype)]
        header[k] = {"dtype": dt, "shape": list(v.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    header.update(header_extra or {})
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def rewrite_st(path: Path, edit) -> None:
    """Load a real file with safetensors, let ``edit(tensors, meta)`` change it, save it back."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(path))
    with safe_open(str(path), "np") as f:
        meta = dict(f.metadata() or {})
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(dt).tobytes()


def png_bytes(arr: np.ndarray, mode: str | None = None, fmt: str = "PNG", **kw) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(arr)
    if mode is not None and img.mode != mode:
        img = img.convert(mode)
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def build_corpus(root: str | os.PathLike, seed: int = 0) -> list[Case]:
    from hostile_cases import add_all

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = make_base_run(root)
    b = Builder(root, base, seed)
    add_all(b)
    ids = [c.id for c in b.cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return b.cases


if __name__ == "__main__":
    cases = build_corpus(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hostile")
    by: dict[str, int] = {}
    for c in cases:
        by[c.category] = by.get(c.category, 0) + 1
    print(f"{len(cases)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
