"""The extension points (Kubernetes scheduler framework style, Nomad's class verdicts).

* ``ClassFilter``: decided once per (pod template, node class); may record what it chose
  (isolation, images) in the :class:`ClassState` it is handed.
* ``ClassScore``: 0..100, also once per (template, class).
* ``NodeFilter`` / ``NodeScore``: per node, for what differs between nodes of one class
  (free resources, pods already there, hostname selectors, image cache). ``active`` says
  whether the plugin has anything to do for a template, so idle plugins cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.status import Status

if TYPE_CHECKING:
    from mixfleet.scheduler.config import SchedulerConfig
    from mixfleet.scheduler.plan import Option
    from mixfleet.scheduler.snapshot import Snapshot


@dataclass(slots=True)
class ClassState:
    """What class filters decided for one (template, class): read to build the option."""

    isolation: str | None = None
    images: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    snap: Snapshot
    config: SchedulerConfig


class ClassFilter(Protocol):
    name: str

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None: ...


class ClassScore(Protocol):
    name: str
    weight_name: str

    def score_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> float: ...


class NodeFilter(Protocol):
    name: str

    def active(self, req: PodRequirements) -> bool: ...

    def filter_node(self, req: PodRequirements, node: int, snap: Snapshot) -> Status | None: ...


class NodeScore(Protocol):
    name: str
    weight_name: str

    def active(self, req: PodRequirements) -> bool: ...

    def score_node(self, req: PodRequirements, option: Option, node: int, snap: Snapshot) -> float: ...
