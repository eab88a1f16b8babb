"""The DaemonSet sync benchmark, tiny, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_daemonset_benchmark_reports_a_sync() -> None:
    """It prints one JSON line: Windows nodes that can run ltsc2022 are desired, the rest
    skipped, and the first rolling-update step deletes maxUnavailable old pods."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.daemonset", "--nodes", "200", "--rounds", "1"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["nodes"] == 200 and 0 < r["desired"] < 200 and r["desired"] + r["skipped"] == 200
    assert r["pods"] == r["desired"] and r["deleted_this_step"] == r["max_unavailable"] > 0
    assert r["sync_ms"] > 0
