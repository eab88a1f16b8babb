"""binpack and spread: where a node stands after placing the pod.

``spread`` scores the free share left on the node, CPU and memory counted equally:
``50*(cpu_free/cpu_alloc + mem_free/mem_alloc)`` after placement (kube-scheduler's
LeastAllocated), so the emptiest node wins.

``binpack`` scores how much is in use on the node after placement in *absolute* terms,
measured against the fleet's largest node (``ref_cpu``, ``ref_mem``: the snapshot's
largest allocatable), CPU and memory counted equally so neither is stranded, plus a small
term for the node's size. The fullest node keeps being filled until the pod no longer
fits, and among empty nodes (equal use) the largest opens first. Scoring by the *fraction*
of the node in use instead (kube-scheduler's MostAllocated) makes a small node look full
sooner, so it opens many small nodes where a few large ones would do. The size term is
worth less than ~1% of the largest node in use, so any node already carrying a real load
beats an empty one: opened nodes are filled before new ones open.

Both are linear in the node's free amounts for nodes of one allocatable size, which is
what lets the search stop early: walking a pool's nodes in order of one free amount, with
the other bounded by the pool's extreme, the best score still reachable is a straight line
in the walk's key (scheduler/search.py).
"""

from __future__ import annotations

from collections.abc import Callable

USED_WEIGHT = 49.5  # per resource; used/ref is at most 1, so at most 99 in all
SIZE_WEIGHT = 0.5  # per resource: the tie-break toward the larger node, at most 1


def binpack(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int, ref_cpu: int, ref_mem: int) -> float:
    used = (alloc_cpu - free_cpu_after) / ref_cpu + (alloc_mem - free_mem_after) / ref_mem
    return USED_WEIGHT * used + SIZE_WEIGHT * (alloc_cpu / ref_cpu + alloc_mem / ref_mem)


def spread(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int, ref_cpu: int, ref_mem: int) -> float:
    return 50.0 * (free_cpu_after / alloc_cpu + free_mem_after / alloc_mem)


ScoreFn = Callable[[int, int, int, int, int, int], float]
STRATEGIES: dict[str, ScoreFn] = {"binpack": binpack, "spread": spread}
