"""Turn the JSON lines of ``benchmarks.scheduler`` runs into the markdown table of RESULTS.md:
``python -m benchmarks.table < results.jsonl``."""

from __future__ import annotations

import json
import sys

HEADER = (
    "| nodes | pods | strategy | pods/s (wall) | pods/s (CPU) | p50 µs | p99 µs | placed | unschedulable "
    "| nodes used | bound | quality | bound with slots | quality with slots | same-size groups | pool ratio | classes | snapshot build s | peak RSS MB |\n"
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def rows(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        fig = json.loads(line)
        for strategy in ("binpack", "spread"):
            r = fig.get(strategy)
            if r is None:
                continue
            out.append(
                f"| {fig['nodes']:,} | {fig['pods']:,} | {strategy} | {r['pods_per_s']:,} | {r['pods_per_cpu_s']:,} "
                f"| {r['p50_us']} | {r['p99_us']} | {r['placed']:,} | {r['unschedulable']:,} | {r['nodes_used']:,} "
                f"| {r['lower_bound']:,} | **{r['quality']}** | {r.get('slot_bound', 0):,} | {r.get('quality_with_slots', '')} | {r.get('quality_same_size_groups', '')} | {r['pool_ratio']} | {r['classes']} | {r['snapshot_build_s']} | {fig['peak_rss_mb']} |"
            )
    return out


def main() -> int:
    print(HEADER)
    print("\n".join(rows([ln for ln in sys.stdin if ln.strip()])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
