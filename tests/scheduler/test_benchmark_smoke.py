"""The benchmark keeps running: a tiny fleet, both strategies, one JSON line at the end."""

from __future__ import annotations

import json

from benchmarks import scheduler as bench


def test_benchmark_prints_one_json_line(capsys) -> None:
    """A tiny run places pods with both strategies and ends with one JSON object of figures."""
    assert bench.main(["--nodes", "60", "--pods", "300", "--templates", "12", "--seed", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    figures = json.loads(out[0])
    for strategy in ("binpack", "spread"):
        r = figures[strategy]
        assert r["placed"] + r["unschedulable"] == figures["pods"]
        assert r["nodes_used"] >= r["lower_bound"] > 0
    assert figures["peak_rss_mb"] > 0
