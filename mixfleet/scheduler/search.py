"""Find the best node for a planned pod without looking at every node.

For each pool (interchangeable hardware) holding a feasible class, a walk goes through
the pool's sorted nodes. binpack walks the nodes sorted by free amount of the pod's
bottleneck resource there (CPU or memory, whichever fewer nodes have enough of; two
bisects tell) upward from the first node with enough of it, so nodes too full are never
visited. spread walks the nodes sorted by summed free fractions down from the emptiest.
Each visited node is checked (its class feasible for this pod, both resources, pod slots,
node filters) and scored exactly. Pools are visited best bound first and skipped once their
bound cannot beat the best node found: binpack bounds a pool by its least free CPU and
memory, spread by its emptiest node by summed fractions, which is exactly the first bound
its walk would check (so at high fill, when every pool's emptiest node is about as full,
pools that cannot win cost no walk). The parts of these bounds fixed for a plan (one
template on one snapshot) are worked out once and kept on the snapshot.

A walk stops when no node further along can beat the best score found (the bound is
linear in the sort key, see plugins/strategy.py), or after ``FIT_LIMIT`` fitting nodes in
the pool, or, once some node fits anywhere, after ``MISS_LIMIT`` nodes in a row that do
not (a pool mixes classes that differ in labels or kernel, and a selective pod skips
most of them). These caps bound the cost per pod; binpack then picks the node most in use
(absolute, see plugins/strategy.py) among those looked at, exact whenever the bound stops
first (tests compare it with scoring every node). A pod that fits somewhere is never reported unschedulable: until the first
fit, walks go on to the end. Image holders are visited explicitly (their locality bonus
can lift a node a walk stops before).

Ties between equal scores are broken by a hash of (seed, node name), so the same seed
gives the same placement, and different pods fan out over equally good nodes: a walk
looks at up to ``TIE_WINDOW`` more nodes once only ties remain.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mixfleet.scheduler.config import Weights
from mixfleet.scheduler.plan import Option, Plan, PoolPlan
from mixfleet.scheduler.plugins.strategy import SIZE_WEIGHT, STRATEGIES, USED_WEIGHT, ScoreFn
from mixfleet.scheduler.registry import IMAGE_SCORE
from mixfleet.scheduler.snapshot import Pool, Snapshot

# A pool's per-plan constants (see _binpack_line, _spread_line): plain tuples, unpacked in
# the hot loop, where attribute access on a class would cost.
_Line = tuple[Any, ...]
_MakeLine = Callable[[Snapshot, Plan, PoolPlan, Weights], _Line]

FIT_LIMIT = 4
MISS_LIMIT = 64
TIE_WINDOW = 4


@dataclass(frozen=True, slots=True)
class Found:
    node: int
    option: Option
    score: float


class _Best:
    __slots__ = ("score", "node", "option", "seed", "prefix", "snap", "ties", "rank")

    def __init__(self, snap: Snapshot, seed: str) -> None:
        self.score = float("-inf")
        self.node = -1
        self.option: Option | None = None
        self.seed = seed
        self.prefix = -1  # CRC of "{seed}/", worked out at the first tie
        self.snap = snap
        self.ties = TIE_WINDOW
        self.rank = 0  # tie-break rank of the best node

    def stop(self, bound: float) -> bool:
        """Can nothing at or past ``bound`` win? Equal bounds spend the tie window."""
        if bound > self.score:
            return False
        if bound < self.score or not self.ties:
            return True
        self.ties -= 1
        return False

    def offer(self, score: float, node: int, option: Option) -> None:
        if score > self.score:
            self.score, self.node, self.option, self.rank = score, node, option, -1
        elif score == self.score:
            if self.rank < 0:
                self.rank = self._tiebreak(self.node)
            rank = self._tiebreak(node)
            if rank < self.rank:
                self.node, self.option, self.rank = node, option, rank

    def _tiebreak(self, node: int) -> int:
        """CRC-32 of "{seed}/{node name}", continuing the seed's CRC over the stored name."""
        if self.prefix < 0:
            self.prefix = zlib.crc32(f"{self.seed}/".encode())
        return zlib.crc32(self.snap.name_bytes[node], self.prefix)


def best_node(snap: Snapshot, plan: Plan, *, strategy: str, weights: Weights, seed: str) -> Found | None:
    best = _Best(snap, seed)
    score_fn = STRATEGIES[strategy]
    snap.index_for(strategy)
    # Each pool's extreme node bounds the pool (binpack: its fullest, spread: its emptiest):
    # visit the most promising pool first, and skip pools that cannot beat what is found.
    (_binpack_pools if strategy == "binpack" else _spread_pools)(snap, plan, weights, score_fn, best)
    for node in plan.holders:
        option = plan.by_class.get(snap.node_class[node])
        if option is not None:
            score = _score(snap, plan, option, node, weights, score_fn)
            if score is not None:
                best.offer(score, node, option)
    if best.option is None:
        return None
    return Found(best.node, best.option, best.score)


def _binpack_pools(snap: Snapshot, plan: Plan, weights: Weights, score_fn: ScoreFn, best: _Best) -> None:
    lines = _lines(snap, plan, weights, "binpack", _binpack_line)
    tops = _binpack_tops(snap, lines, weights)
    tops.sort()  # (-bound, i) sorts as a stable sort by bound, highest first, would
    for neg, i in tops:
        if -neg < best.score:
            break
        _scan(snap, plan, weights, score_fn, best, *_binpack_walk(snap, lines[i], weights))


def _spread_pools(snap: Snapshot, plan: Plan, weights: Weights, score_fn: ScoreFn, best: _Best) -> None:
    lines = _lines(snap, plan, weights, "spread", _spread_line)
    tops = []
    for i, (intercept, slope, pool, _, _) in enumerate(lines):
        if pool.by_sum:  # else every node is out of pod slots
            tops.append((-(intercept + slope * pool.by_sum[-1][0]), i))
    tops.sort()
    for neg, i in tops:
        if -neg < best.score:
            break
        _spread_walk(snap, plan, lines[i], best, score_fn, weights)


def _lines(snap: Snapshot, plan: Plan, weights: Weights, strategy: str, make: _MakeLine) -> list[_Line]:
    """``make(snap, plan, pool plan, weights)`` for each pool of the plan: what its bounds
    need that stays fixed for the plan's lifetime, worked out once and kept on the snapshot."""
    cached = snap.search_cache.get((strategy, id(plan)))
    if cached is not None and cached[0] is plan and cached[1] is weights:
        kept: list[_Line] = cached[2]
        return kept
    lines = [make(snap, plan, pp, weights) for pp in plan.pools]
    snap.search_cache[(strategy, id(plan))] = (plan, weights, lines)  # the plan is kept: its id stays unique
    return lines


def _binpack_line(snap: Snapshot, plan: Plan, pp: PoolPlan, weights: Weights) -> _Line:
    """The class and node score bounds plus the size term, allocatable plus the largest
    charge (CPU, memory), the smallest charge (CPU, memory), the pool."""
    pool = snap.pools[pp.pool]
    head = pp.max_class_score + plan.node_score_bound + weights.strategy * _size_term(snap, pool)
    return head, pool.cpu + pp.max_cpu, pool.memory + pp.max_mem, pp.min_cpu, pp.min_mem, pool


def _binpack_tops(snap: Snapshot, lines: list[_Line], weights: Weights) -> list[tuple[float, int]]:
    """(-bound, i) for the pools whose emptiest node has room for the pod by CPU and memory
    (the others cannot be walked). No node of a pool ends fuller than its least free CPU
    and least free memory (or just enough for the pod) would make it, even if two nodes
    hold those."""
    cpu_weight, mem_weight = weights.strategy * USED_WEIGHT / snap.ref_cpu, weights.strategy * USED_WEIGHT / snap.ref_mem
    tops = []
    for i, (head, ceil_cpu, ceil_mem, min_cpu, min_mem, pool) in enumerate(lines):
        by_cpu, by_mem = pool.by_cpu, pool.by_mem
        if not by_cpu or by_cpu[-1][0] < min_cpu or by_mem[-1][0] < min_mem:
            continue  # out of pod slots, or even the emptiest node is too small
        least_cpu, least_mem = by_cpu[0][0], by_mem[0][0]
        used_cpu = ceil_cpu - (least_cpu if least_cpu > min_cpu else min_cpu)
        used_mem = ceil_mem - (least_mem if least_mem > min_mem else min_mem)
        tops.append((-(head + cpu_weight * used_cpu + mem_weight * used_mem), i))
    return tops


def _size_term(snap: Snapshot, pool: Pool) -> float:
    return SIZE_WEIGHT * (pool.cpu / snap.ref_cpu + pool.memory / snap.ref_mem)


def _binpack_walk(snap: Snapshot, line: _Line, weights: Weights) -> _Line:
    """Upward through the list where fewer nodes have enough (the pod's bottleneck here),
    from the first node with enough (one has: see _binpack_tops). The best score any node
    at or past ``free`` can reach is linear in ``free`` (use after placement is at most
    ``alloc - free + charge``); the other resource is bounded by the pool's least free one."""
    head, ceil_cpu, ceil_mem, min_cpu, min_mem, pool = line
    cpu_start = bisect_left(pool.by_cpu, (min_cpu,))
    mem_start = bisect_left(pool.by_mem, (min_mem,))
    if cpu_start >= mem_start:
        lst, start, other_free, other_lo = pool.by_cpu, cpu_start, snap.free_mem, min_mem
        dom_ceiling, dom_ref = ceil_cpu, snap.ref_cpu
        least = pool.by_mem[0][0]
        used_other = (ceil_mem - (least if least > min_mem else min_mem)) / snap.ref_mem
    else:
        lst, start, other_free, other_lo = pool.by_mem, mem_start, snap.free_cpu, min_cpu
        dom_ceiling, dom_ref = ceil_mem, snap.ref_mem
        least = pool.by_cpu[0][0]
        used_other = (ceil_cpu - (least if least > min_cpu else min_cpu)) / snap.ref_cpu
    w = weights.strategy
    intercept = head + w * USED_WEIGHT * (dom_ceiling / dom_ref + used_other)
    return lst, range(start, len(lst)), intercept, -w * USED_WEIGHT / dom_ref, other_free, other_lo


def _spread_line(snap: Snapshot, plan: Plan, pp: PoolPlan, weights: Weights) -> _Line:
    """``(intercept, slope, pool, floor, pool plan)``: a node with sum key ``k`` scores at
    most ``intercept + slope * k`` (exact: every node of a pool has the same allocatable),
    and nodes keyed below ``floor`` are too full for the pod."""
    pool = snap.pools[pp.pool]
    half_w = weights.strategy * 50.0
    floor = pool.sum_key(pp.min_cpu, pp.min_mem)
    scale = pool.cpu * pool.memory
    return pp.max_class_score + plan.node_score_bound - half_w * floor / scale, half_w / scale, pool, floor, pp


def _spread_walk(snap: Snapshot, plan: Plan, line: _Line, best: _Best, score_fn: ScoreFn, weights: Weights) -> None:
    """Downward from the emptiest node by summed free fractions, until nodes are too full."""
    intercept, slope, pool, floor, pp = line
    lst = pool.by_sum
    start = bisect_left(lst, (floor,))
    if start < len(lst):
        _scan(snap, plan, weights, score_fn, best, lst, range(len(lst) - 1, start - 1, -1), intercept, slope, snap.free_cpu, pp.min_cpu)


def _scan(
    snap: Snapshot, plan: Plan, weights: Weights, score_fn: ScoreFn, best: _Best, lst: Sequence[tuple[Any, int]],
    order: Iterable[int], intercept: float, slope: float, other_free: Sequence[int], other_lo: int,
) -> None:
    options, node_class = plan.class_options, snap.node_class
    best_score = best.score
    fits = misses = 0
    for i in order:
        key, node = lst[i]
        bound = intercept + slope * key
        if bound <= best_score and best.stop(bound):
            return
        option = options[node_class[node]] if other_free[node] >= other_lo else None
        score = None if option is None else _score(snap, plan, option, node, weights, score_fn)
        if score is None or option is None:
            misses += 1
            if misses >= MISS_LIMIT and best.option is not None:
                return
            continue
        best.offer(score, node, option)
        best_score = best.score
        misses = 0
        fits += 1
        if fits >= FIT_LIMIT:
            return


def _score(snap: Snapshot, plan: Plan, option: Option, node: int, weights: Weights, score_fn: ScoreFn) -> float | None:
    """The node's total score, or None when it does not fit."""
    free_cpu = snap.free_cpu[node] - option.cpu
    free_mem = snap.free_mem[node] - option.memory
    if free_cpu < 0 or free_mem < 0 or snap.free_pods[node] < 1:
        return None
    req = plan.req
    for f in plan.node_filters:
        if f.filter_node(req, node, snap) is not None:
            return None
    score = option.class_score + weights.strategy * score_fn(
        free_cpu, free_mem, snap.alloc_cpu[node], snap.alloc_mem[node], snap.ref_cpu, snap.ref_mem
    )
    for plugin, weight in plan.node_scores:
        score += weight * plugin.score_node(req, option, node, snap)
    if option.image_total:
        score += weights.image_locality * IMAGE_SCORE.score_node(req, option, node, snap)
    return score
