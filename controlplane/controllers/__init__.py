"""The controllers the elected leader runs next to the scheduler.

One module per controller, each level-triggered over a shared work queue (queue.py) and
shared informers (informers.py):

- deployment.py      Deployment -> ReplicaSets per template revision, rolling updates
- replicaset.py      ReplicaSet -> pods
- nodelifecycle.py   heartbeats -> node NotReady + unreachable taint -> pod eviction
- gc.py              ownerReferences -> cascading deletion (background, foreground)

``controller_loops`` is called once per leadership term; the returned coroutines share one
set of informers and are cancelled together when leadership is lost.
"""

from __future__ import annotations

from typing import Any, Awaitable

from controlplane.controllers.deployment import DeploymentController
from controlplane.controllers.gc import GarbageCollector
from controlplane.controllers.informers import SharedInformers
from controlplane.controllers.nodelifecycle import NodeLifecycleController
from controlplane.controllers.replicaset import ReplicaSetController
from controlplane.registry import Registry

__all__ = ["controller_loops"]


def controller_loops(registry: Registry, config: Any) -> list[Awaitable[None]]:
    """``config`` needs ``node_monitor_grace`` and ``pod_eviction_timeout`` (seconds)."""
    informers = SharedInformers(registry)
    controllers = [
        DeploymentController(registry, informers),
        ReplicaSetController(registry, informers),
        NodeLifecycleController(
            registry,
            informers,
            grace=float(config.node_monitor_grace),
            eviction=float(config.pod_eviction_timeout),
        ),
        GarbageCollector(registry, informers),
    ]
    return [informers.run(), *(c.run() for c in controllers)]
