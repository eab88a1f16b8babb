"""binpack and spread: how full a node is after placing the pod.

Both count CPU and memory equally: ``used = (cpu_used/cpu_alloc + mem_used/mem_alloc)/2``
after the pod is placed. ``binpack`` scores ``100*used`` (fill the fullest node that fits,
kube-scheduler's MostAllocated), ``spread`` scores ``100*(1-used)`` (LeastAllocated).

Both are linear in the node's free amounts, which is what lets the search stop early:
walking a pool's nodes in order of one free amount, with the other bounded by the pool's
extreme, the best score still reachable is a straight line in the walk's key
(scheduler/search.py).
"""

from __future__ import annotations


def binpack(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int) -> float:
    return 100.0 - 50.0 * (free_cpu_after / alloc_cpu + free_mem_after / alloc_mem)


def spread(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int) -> float:
    return 50.0 * (free_cpu_after / alloc_cpu + free_mem_after / alloc_mem)


STRATEGIES = {"binpack": binpack, "spread": spread}
