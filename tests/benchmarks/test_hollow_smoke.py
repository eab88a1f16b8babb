"""The hollow-node benchmark, tiny: ten hollow nodes for a few seconds, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FIELDS = ("register_all_ready_s", "not_ready_nodes", "max_lease_gap_s", "peak_rss_mb", "idle", "churn")
PHASE_FIELDS = ("lease_writes_per_s", "cpu_pct", "rss_mb", "loop_lag_p99_ms")
CHURN_FIELDS = ("pods_created", "pods_running", "start_p50_s", "start_p99_s", "delete_p99_s", "drained")


def test_ten_hollow_nodes_stay_ready_through_churn() -> None:
    """Ten hollow nodes all get Ready, none goes NotReady, and churned pods run and go away."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.hollow", "--nodes", "10", "--seconds", "3",
         "--churn", "4", "--heartbeat", "1", "--grace", "4", "--lifetime", "1.5"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(f in r for f in FIELDS), sorted(r)
    assert all(f in r["idle"] and f in r["churn"] for f in PHASE_FIELDS), (r["idle"], r["churn"])
    assert all(f in r["churn"] for f in CHURN_FIELDS), r["churn"]
    assert r["all_ready"] and r["ready_nodes"] == 10
    assert r["not_ready_nodes"] == 0, r["not_ready_examples"]
    assert r["churn"]["pods_running"] == r["churn"]["pods_created"] > 0
    assert r["churn"]["drained"] and r["churn"]["pods_unschedulable"] == 0
