"""Prefers hosts where an ``auto`` pod runs with process isolation over hosts that would
need Hyper-V: a Hyper-V container pays a utility VM's memory and start-up time, so it is the
fallback, not a tie. Pods that asked for one mode, and Linux pods, score the same anywhere."""

from __future__ import annotations

from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements


class IsolationPreference:
    name = "IsolationPreference"
    weight_name = "isolation_preference"

    def score_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> float:
        return 0.0 if state.isolation == "hyperv" and req.isolation == "auto" else 100.0


PLUGIN = IsolationPreference()
