"""The controllers the elected leader runs next to the scheduler.

One module per controller, each level-triggered over a shared work queue (queue.py) and
shared informers (informers.py):

- deployment.py      Deployment -> ReplicaSets per template revision, rolling updates
- replicaset.py      ReplicaSet -> pods
- nodelifecycle.py   heartbeats -> node NotReady + unreachable taint -> pod eviction
- gc.py              ownerReferences -> cascading deletion (background, foreground)
- podgc.py           pods bound to a Node that no longer exists -> Failed and deleted
- claims.py          a claim being deleted is kept while a pod uses it (pvc-protection)
- daemonset.py       DaemonSet -> one pod per eligible node, rolling updates
- job.py             Job -> pods run to completion, retries with back-off, deadlines, TTL
- cronjob.py         CronJob -> Jobs on a cron schedule, concurrency policy, history

``controller_loops`` is called once per leadership term; the returned coroutines share one
set of informers and are cancelled together when leadership is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Coroutine

if TYPE_CHECKING:
    from mixfleet.controlplane.registry import Registry

__all__ = ["controller_loops"]


def controller_loops(
    registry: "Registry", config: Any, *, watches: Any = None
) -> list[Coroutine[Any, Any, None]]:
    """``config`` needs ``node_monitor_grace`` and ``pod_eviction_timeout`` (seconds);
    ``watches``, the API server's watch cache, lets the informers share its objects."""
    # Imported here so that mixctl, which uses the pure helpers (pods.py, rollout.py), does
    # not load the controllers and the registry.
    from mixfleet.controlplane.controllers.claims import ClaimController
    from mixfleet.controlplane.controllers.cronjob import CronJobController
    from mixfleet.controlplane.controllers.daemonset import DaemonSetController
    from mixfleet.controlplane.controllers.deployment import DeploymentController
    from mixfleet.controlplane.controllers.gc import GarbageCollector
    from mixfleet.controlplane.controllers.informers import SharedInformers
    from mixfleet.controlplane.controllers.job import JobController
    from mixfleet.controlplane.controllers.nodelifecycle import NodeLifecycleController
    from mixfleet.controlplane.controllers.podgc import PodGarbageCollector
    from mixfleet.controlplane.controllers.replicaset import ReplicaSetController

    informers = SharedInformers(registry, watches=watches)
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
        PodGarbageCollector(registry, informers),
        ClaimController(registry, informers),
        JobController(registry, informers, backoff_seconds=float(getattr(config, "job_backoff_seconds", 10.0))),
        CronJobController(registry, informers, clock=getattr(config, "cronjob_clock", None),
                          resync_seconds=float(getattr(config, "cronjob_resync_seconds", 30.0))),
        DaemonSetController(registry, informers),
    ]
    return [informers.run(), *(c.run() for c in controllers)]
