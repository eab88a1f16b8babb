"""Taints: NoSchedule and NoExecute keep out pods that do not tolerate them;
PreferNoSchedule only lowers the score (fewer untolerated ones score higher)."""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts, Taint
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import UNTOLERATED_TAINT, Status

BLOCKING = frozenset({"NoSchedule", "NoExecute"})


def tolerated(req: PodRequirements, taint: Taint) -> bool:
    return any(t.tolerates(taint.key, taint.value, taint.effect) for t in req.tolerations)


class TaintToleration:
    name = "TaintToleration"
    weight_name = "taint_toleration"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        for taint in facts.taints:
            if taint.effect in BLOCKING and not tolerated(req, taint):
                shown = f"{taint.key}: {taint.value}" if taint.value else taint.key
                return Status.unresolvable(UNTOLERATED_TAINT.format(taint=shown))
        return None

    def score_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> float:
        bad = sum(1 for t in facts.taints if t.effect == "PreferNoSchedule" and not tolerated(req, t))
        return 100.0 / (1 + bad)


PLUGIN = TaintToleration()
