"""The cascade benchmark, tiny: 200 pods, both policies, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_cascade_benchmark_runs_and_leaves_nothing() -> None:
    """Each policy's run reports its figures and ends with no pod left."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cascade_delete", "--pods", "200", "--bound", "--timeout", "60"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [x["policy"] for x in r["runs"]] == ["Background", "Foreground"]
    for x in r["runs"]:
        assert x["pods_left"] == 0 and not x["timed_out"], x
        assert x["store_txns"] > 0 and x["cascade_s"] > 0
