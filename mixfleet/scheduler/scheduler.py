"""The scheduler: parse the pod (once per template), plan its classes (once per template
and snapshot), search the index, explain a failure. Pure: no I/O, no clocks."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from mixfleet.api import pods
from mixfleet.scheduler import explain
from mixfleet.scheduler.config import SchedulerConfig
from mixfleet.scheduler.plan import Plan, build_plan
from mixfleet.scheduler.plugins import volume_binding
from mixfleet.scheduler.requirements import (
    PodRequirements,
    RequirementError,
    parse,
    template_key,
)
from mixfleet.scheduler.results import Placement, Unschedulable
from mixfleet.scheduler.search import best_node
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import Code
from mixfleet.util import log

_log = log.get("scheduler")


class Scheduler:
    def __init__(self, config: SchedulerConfig | None = None) -> None:
        self.config = config or SchedulerConfig()
        self._templates: dict[Hashable, PodRequirements] = {}
        # Plans are cached on the snapshot under this token (hashing the config per pod
        # would cost more than the lookup saves).
        self._token = object()

    def schedule(self, pod: Mapping[str, Any], snap: Snapshot, *, seed: str = "") -> Placement | Unschedulable:
        """Choose a node for ``pod`` in ``snap``; ``seed`` (e.g. the pod uid or evaluation
        id) makes tie-breaks reproducible. Never raises for a pod that does not fit."""
        try:
            req = self.requirements(pod)
        except RequirementError as e:
            _log.warning("scheduler.pod_invalid", pod=_name(pod), error=str(e))
            return Unschedulable(message=f"pod cannot be scheduled: {e}", code=Code.ERROR)
        if req.claims and (refused := volume_binding.prefilter(req, snap)) is not None:
            return explain.everywhere(snap, refused)
        plan = self.plan(req, snap)
        strategy = req.strategy or self.config.strategy
        found = best_node(snap, plan, strategy=strategy, weights=self.config.weights, seed=seed or pods.key(pod))
        if found is None:
            return explain.unschedulable(snap, plan)
        option = found.option
        return Placement(
            node_name=snap.nodes[found.node].name,
            isolation=option.isolation,
            images=dict(option.images),
            score=found.score,
            cpu_millis=option.cpu,
            memory_bytes=option.memory,
        )

    @property
    def cached_templates(self) -> int:
        """How many pod templates are parsed and cached."""
        return len(self._templates)

    def requirements(self, pod: Mapping[str, Any]) -> PodRequirements:
        """Parsed requirements, cached by pod template (see requirements.template_key)."""
        key = template_key(pod)
        req = self._templates.get(key)
        if req is None:
            if len(self._templates) >= self.config.template_cache_size:
                self._templates.clear()
            req = self._templates[key] = parse(pod, key=key)
        return req

    def plan(self, req: PodRequirements, snap: Snapshot) -> Plan:
        """The template's class verdicts for this snapshot (cached on the snapshot)."""
        cache_key = (self._token, req.key)
        plan: Plan | None = snap.plans.get(cache_key)
        if plan is None:
            plan = snap.plans[cache_key] = build_plan(req, snap, self.config)
        return plan


def _name(pod: Mapping[str, Any]) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace') or 'default'}/{md.get('name', '')}"
