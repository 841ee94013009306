"""Each CLI case of issue #24, by name, from the hostile corpus (every run, not a sample): a clean
one-line error or the right success, never a traceback, a hang, a huge allocation or lost work."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ISSUE_CASES = {
    "config-text-deep_array": "deeply nested TOML arrays in --config (RecursionError)",
    "config-text-deep_inline": "deeply nested inline tables",
    "config-run-deep_dotted-info": "deep dotted keys in a run's config.toml: info (MemoryError at 5.7 GB)",
    "metrics-binary-info": "binary garbage metrics.csv: info",
    "metrics-utf16-resume": "UTF-16 metrics.csv: train --resume",
    "metrics-short_row-resume": "a row cut short",
    "metrics-step_abc-resume": "a step of abc",
    "metrics-step_nan-info": "a step of nan",
    "metrics-step_inf-resume": "a step of inf",
    "metrics-dir-info": "a directory named metrics.csv",
    "trainer-moments_shape-resume": "optimiser moments of another shape",
    "trainer-moments_complex-resume": "complex optimiser moments",
    "trainer-step_negative-resume": "a negative step count",
    "trainer-groups_size-resume": "an optimiser state of the wrong size",
    "trainer-meta_lr_nan-resume": "a stored base learning rate of NaN",
    "trainer-meta_lr_1e9-resume": "a stored base learning rate of 1e9",
    "trainer-garbage-fresh": "a corrupt trainer.safetensors: --fresh-optimizer continues from the model",
    "trainer-stale-resume": "trainer state of another step than the weights (kill between writes): goes on, says so",
    "idx-one_image": "a dataset of one image (IDX)",
    "folder-one_png": "a dataset of one image (folder)",
    "image-fifo-sample": "a FIFO as --init image",
    "folder-fifo_png": "a FIFO inside a --data folder",
    "npy-huge_shape": "an .npy claiming 2.79 PiB",
    "config-text-seed_1e14": "seed = 1e14",
    "config-text-seed_big": "seed = 100000000000000",
    "image-nan_tiff-sample": "an --init image full of NaN",
    "weights-meta_8mb-info": "an 8 MB metadata string",
    "config-source-passwd-info": "data.source = /etc/passwd: info says so",
    "config-source-missing-info": "a missing data folder: info says so",
    "args-out_file": "train --out FILE",
    "args-out_under_file": "an unwritable --out",
    "args-guide_out_file": "guide --out FILE",
    "args-sample_out_dir_png": "a directory named x.png as sample --out",
    "args-grid_1000": "sample --grid 1000x1000",
    "args-chain_n_200000": "chain --n 200000",
    "args-ais_1e9": "evaluate --ais-betas 1000000000",
    "args-vae_hidden_1e5": "train --model vae --hidden 100000",
    "args-n_1e12": "sample --n 1000000000000",
    "weights-random_data-info": "random bytes over the tensor data (checksum)",
    "idx-float_1e38": "extreme float IDX values",
    "args-digits_empty": "--digits ''",
    "weights-conv-1e30-sample": "weights of 1e30 sampling all-NaN with exit 0",
}


@pytest.mark.slow
def test_every_cli_case_of_the_issue(tmp_path):
    out = tmp_path / "cases.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hostile.py"), "--root", str(tmp_path / "h"),
                           "--ids", ",".join(ISSUE_CASES), "--timeout", "60", "--json", str(out)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert out.exists(), proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["totals"]["inputs"] == len(ISSUE_CASES)
    lines = [f"{f['id']} ({ISSUE_CASES[f['id']]}): {', '.join(f['failures'])}\n    {f['tail'][-300:]}"
             for f in report["failures"]]
    assert not lines, "\n".join(lines)
