"""Find the best node for a planned pod without looking at every node.

For each feasible class the walk starts at the promising end of the class's sorted list
(binpack: the fullest node that could fit; spread: the emptiest) and stops as soon as no
node further along can beat the best score found (plugins/strategy.py gives the bound).
Node-level scores that are not enumerated add their maximum to that bound, so the result
is the same as scoring every node. Image holders are visited explicitly (their locality
bonus is the one score that can lift a node the walk would stop before).

Ties between equal scores are broken by a hash of (seed, node name), so the same seed
gives the same placement, and different pods fan out over equally good nodes. The walk
looks at up to ``TIE_WINDOW`` nodes past the point where only ties remain, which bounds
the cost on a fleet of identical empty nodes.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from dataclasses import dataclass

from scheduler.config import Weights
from scheduler.plan import Option, Plan
from scheduler.registry import IMAGE_SCORE
from scheduler.plugins.strategy import STRATEGIES, binpack_bound, spread_bound
from scheduler.snapshot import Snapshot


TIE_WINDOW = 8


@dataclass(frozen=True, slots=True)
class Found:
    node: int
    option: Option
    score: float


class _Best:
    __slots__ = ("score", "node", "option", "seed", "snap", "ties")

    def __init__(self, snap: Snapshot, seed: str) -> None:
        self.score = float("-inf")
        self.node = -1
        self.option: Option | None = None
        self.seed = seed
        self.snap = snap
        self.ties = TIE_WINDOW

    def stop(self, bound: float) -> bool:
        """Can nothing at or past ``bound`` win? Equal bounds spend the tie window."""
        if bound > self.score:
            return False
        if bound < self.score or not self.ties:
            return True
        self.ties -= 1
        return False

    def offer(self, score: float, node: int, option: Option) -> None:
        if score > self.score or (score == self.score and self._tiebreak(node) < self._tiebreak(self.node)):
            self.score, self.node, self.option = score, node, option

    def _tiebreak(self, node: int) -> int:
        return zlib.crc32(f"{self.seed}/{self.snap.nodes[node].name}".encode())


def best_node(snap: Snapshot, plan: Plan, *, strategy: str, weights: Weights, seed: str) -> Found | None:
    best = _Best(snap, seed)
    score_fn = STRATEGIES[strategy]
    for option in plan.options:
        if strategy == "binpack":
            _walk_binpack(snap, plan, option, weights, score_fn, best)
        else:
            _walk_spread(snap, plan, option, weights, score_fn, best)
    for node in plan.holders:
        option = plan.by_class.get(snap.node_class[node])
        if option is not None:
            score = _score(snap, plan, option, node, weights, score_fn)
            if score is not None:
                best.offer(score, node, option)
    if best.option is None:
        return None
    return Found(best.node, best.option, best.score)


def _walk_binpack(snap, plan, option, weights, score_fn, best) -> None:
    lst = snap.order[option.cls]
    ceiling = option.class_score + plan.node_score_bound
    w = weights.strategy
    for i in range(bisect_left(lst, (option.min_frac,)), len(lst)):
        s, node = lst[i]
        if best.stop(ceiling + w * binpack_bound(s, option.max_frac)):
            return
        score = _score(snap, plan, option, node, weights, score_fn)
        if score is not None:
            best.offer(score, node, option)


def _walk_spread(snap, plan, option, weights, score_fn, best) -> None:
    lst = snap.order[option.cls]
    ceiling = option.class_score + plan.node_score_bound
    w = weights.strategy
    for i in range(len(lst) - 1, -1, -1):
        s, node = lst[i]
        if s < option.min_frac or best.stop(ceiling + w * spread_bound(s, option.min_frac)):
            return
        score = _score(snap, plan, option, node, weights, score_fn)
        if score is not None:
            best.offer(score, node, option)


def _score(snap: Snapshot, plan: Plan, option: Option, node: int, weights: Weights, score_fn) -> float | None:
    """The node's total score, or None when it does not fit."""
    free_cpu = snap.free_cpu[node] - option.cpu
    free_mem = snap.free_mem[node] - option.memory
    if free_cpu < 0 or free_mem < 0 or snap.free_pods[node] < 1:
        return None
    req = plan.req
    for f in plan.node_filters:
        if f.filter_node(req, node, snap) is not None:
            return None
    score = option.class_score + weights.strategy * score_fn(free_cpu, free_mem, snap.alloc_cpu[node], snap.alloc_mem[node])
    for plugin, weight in plan.node_scores:
        score += weight * plugin.score_node(req, option, node, snap)
    if option.image_total:
        score += weights.image_locality * IMAGE_SCORE.score_node(req, option, node, snap)
    return score
