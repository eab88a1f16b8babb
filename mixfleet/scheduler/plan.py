"""A template's verdict for every node class of one snapshot, computed once and reused.

For each class the class filters run in registry order; the first failure is recorded
(for the explanation), otherwise the class becomes an :class:`Option`: the isolation and
images chosen there, the pod's charge there (Hyper-V overhead included), the class-level
score. Options are then grouped by the snapshot's pools (interchangeable hardware) with
the bounds the search needs there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mixfleet.api import images as image_ref
from mixfleet.scheduler import registry
from mixfleet.scheduler.config import SchedulerConfig
from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context, NodeFilter, NodeScore
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import Status


@dataclass(slots=True)
class Option:
    cls: int
    isolation: str | None
    images: dict[str, str]
    image_names: tuple[str, ...]  # normalized, for image locality
    image_total: int  # bytes of those images as reported anywhere
    cpu: int  # what the pod is charged on a node of this class
    memory: int
    class_score: float  # weighted


@dataclass(slots=True)
class PoolPlan:
    """A pool with at least one feasible class, and bounds over those classes' options."""

    pool: int
    min_cpu: int
    max_cpu: int
    min_mem: int
    max_mem: int
    max_class_score: float


@dataclass(slots=True)
class Plan:
    req: PodRequirements
    options: list[Option] = field(default_factory=list)
    pools: list[PoolPlan] = field(default_factory=list)  # best class score first
    by_class: dict[int, Option] = field(default_factory=dict)
    class_options: list[Option | None] = field(default_factory=list)  # by class id, for the hot loop
    failures: list[tuple[int, Status]] = field(default_factory=list)
    node_filters: tuple[NodeFilter, ...] = ()  # active per-node filters, registry order (resources excluded)
    pre_resource_filters: int = 0  # how many of node_filters run before resources
    node_scores: tuple[tuple[NodeScore, float], ...] = ()
    node_score_bound: float = 0.0  # max weighted node score for a node not enumerated
    holders: tuple[int, ...] = ()  # nodes holding a chosen image, visited explicitly


def build_plan(req: PodRequirements, snap: Snapshot, config: SchedulerConfig) -> Plan:
    ctx = Context(snap, config)
    plan = Plan(req)
    for cls in snap.classes:
        state = ClassState()
        status = _run_filters(req, cls.facts, state, ctx)
        if status is not None:
            plan.failures.append((cls.id, status))
            continue
        option = _option(req, cls.id, state, ctx)
        plan.options.append(option)
        plan.by_class[cls.id] = option
    plan.class_options = [plan.by_class.get(c.id) for c in snap.classes]
    plan.pools = _pool_plans(plan, snap)
    before = tuple(f for f in registry.NODE_FILTERS_BEFORE_RESOURCES if f.active(req))
    after = tuple(f for f in registry.NODE_FILTERS_AFTER_RESOURCES if f.active(req))
    plan.node_filters, plan.pre_resource_filters = before + after, len(before)
    plan.node_scores = tuple((s, getattr(config.weights, s.weight_name)) for s in registry.NODE_SCORES if s.active(req))
    plan.node_score_bound = sum(100.0 * w for _, w in plan.node_scores)
    _plan_image_locality(plan, snap, config)
    return plan


def _run_filters(req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
    for f in registry.CLASS_FILTERS:
        status = f.filter_class(req, facts, state, ctx)
        if status is not None:
            return status
    return None


def _option(req: PodRequirements, cls_id: int, state: ClassState, ctx: Context) -> Option:
    snap, weights = ctx.snap, ctx.config.weights
    facts = snap.classes[cls_id].facts
    cpu, mem = req.cpu_millis, req.memory_bytes
    if state.isolation == "hyperv":
        oc, om = facts.hyperv_overhead or snap.default_overhead
        cpu, mem = cpu + oc, mem + om
    names = tuple(sorted({image_ref.normalize(i) for i in state.images.values()}))
    total = sum(info.size for n in names if (info := snap.images.get(n)) is not None)
    score = sum(getattr(weights, s.weight_name) * s.score_class(req, facts, state, ctx) for s in registry.CLASS_SCORES)
    return Option(
        cls=cls_id,
        isolation=state.isolation,
        images=state.images,
        image_names=names,
        image_total=total,
        cpu=cpu,
        memory=mem,
        class_score=score,
    )


def _pool_plans(plan: Plan, snap: Snapshot) -> list[PoolPlan]:
    by_pool: dict[int, list[Option]] = {}
    for option in plan.options:
        for pool in snap.class_pools[option.cls]:
            by_pool.setdefault(pool, []).append(option)
    out = [
        PoolPlan(
            pool=pool,
            min_cpu=min(o.cpu for o in opts),
            max_cpu=max(o.cpu for o in opts),
            min_mem=min(o.memory for o in opts),
            max_mem=max(o.memory for o in opts),
            max_class_score=max(o.class_score for o in opts),
        )
        for pool, opts in by_pool.items()
    ]
    # A stable order; the search re-sorts pools by their bound for each pod.
    out.sort(key=lambda p: (-p.max_class_score, p.pool))
    return out


def _plan_image_locality(plan: Plan, snap: Snapshot, config: SchedulerConfig) -> None:
    """Few holders: visit them explicitly. Many: widen the search bound instead."""
    weight = config.weights.image_locality
    if not weight:
        return
    holders: set[int] = set()
    for option in plan.options:
        if option.image_total:
            for name in option.image_names:
                holders.update(i for i in snap.holders.get(name, ()) if snap.node_class[i] == option.cls)
    if len(holders) > config.image_holder_scan_limit:
        plan.node_score_bound += 100.0 * weight
        return
    plan.holders = tuple(sorted(holders))
