"""binpack and spread: how full a node is after placing the pod.

Both count CPU and memory equally: ``used = (cpu_used/cpu_alloc + mem_used/mem_alloc)/2``
after the pod is placed. ``binpack`` scores ``100*used`` (fill the fullest node that fits,
kube-scheduler's MostAllocated), ``spread`` scores ``100*(1-used)`` (LeastAllocated).

The snapshot keeps each class's nodes sorted by ``s = cpu_free/cpu_alloc +
mem_free/mem_alloc`` so the search can walk from the promising end and stop early: for a
pod taking fraction ``f`` of a node, ``used = 1 - (s - f)/2``, and ``f`` lies between the
pod's fraction of the class's largest and smallest nodes, which bounds every node further
along the walk.
"""

from __future__ import annotations


def binpack(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int) -> float:
    return 100.0 - 50.0 * (free_cpu_after / alloc_cpu + free_mem_after / alloc_mem)


def spread(free_cpu_after: int, free_mem_after: int, alloc_cpu: int, alloc_mem: int) -> float:
    return 50.0 * (free_cpu_after / alloc_cpu + free_mem_after / alloc_mem)


def binpack_bound(s: float, max_frac: float) -> float:
    """No node at or after sort key ``s`` (walking up) scores more than this."""
    return 100.0 - 50.0 * (s - max_frac)


def spread_bound(s: float, min_frac: float) -> float:
    """No node at or before sort key ``s`` (walking down) scores more than this."""
    return 50.0 * (s - min_frac)


STRATEGIES = {"binpack": binpack, "spread": spread}
