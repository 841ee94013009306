"""The hostile corpus against the CLI, a sample per run (the full set: benchmarks/hostile.py).

The sample is 40 of the ~600 cases, seeded by the date (or HOSTILE_SEED), so successive CI runs
cover different cases. A case fails on a traceback, a hang, an exit by signal, RSS > 2 GiB, a
wrong verdict or a run directory made unloadable (scripts/hostile_runner.py).
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = int(os.environ.get("HOSTILE_SAMPLE", "40"))


@pytest.mark.slow
def test_a_sample_of_the_hostile_corpus_gets_clean_answers(tmp_path):
    seed = int(os.environ.get("HOSTILE_SEED", datetime.date.today().strftime("%Y%m%d")))
    out = tmp_path / "hostile.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hostile.py"), "--root", str(tmp_path / "h"),
                           "--sample", str(SAMPLE), "--seed", str(seed), "--timeout", "60", "--json", str(out)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert out.exists(), proc.stderr[-3000:]
    report = json.loads(out.read_text())
    totals = report["totals"]
    assert totals["inputs"] == SAMPLE
    lines = [f"{f['id']}: {', '.join(f['failures'])}\n    {' '.join(f['argv'])[:300]}\n    {f['tail'][-300:]}"
             for f in report["failures"]]
    assert totals["failed"] == 0, f"seed {seed}:\n" + "\n".join(lines)
    assert totals["peak_rss_mib"] < 2048
