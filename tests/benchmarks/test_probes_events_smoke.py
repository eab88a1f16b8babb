"""The probes-and-events benchmark, tiny, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_probes_events_benchmark_reports_its_figures() -> None:
    """Every probe asked for runs, every container turns ready, every event is written."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.probes_events", "--containers", "20", "--seconds", "2",
         "--pods", "10"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["probes"]["ready"] == 20 and r["probes"]["probes_per_s"] > 0
    assert r["events"]["events_written"] == 31  # the aggregated repeat + 10 pods x 3
