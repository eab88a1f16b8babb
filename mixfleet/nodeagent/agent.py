"""The node agent: registers its Node, heartbeats a Lease, watches the pods bound to it and
converges the engine's containers to them.

Level-triggered, like the kubelet: watch events only update a local cache of this node's
pods and wake the reconcile loop; each pass lists the engine's managed containers, asks the
pure ``reconcile.plan`` what to do and hands the actions to per-pod workers. A periodic
resync repairs anything an event missed; the engine's container events (a container died,
started, was removed) wake the loop at once, so an exit is reported without waiting for the
resync. Readiness probes run in one scheduler per agent (``nodeagent.probes``); a readiness
change wakes the loop too, and status reports it. A restarted agent adopts the containers it
finds (they carry their pod's uid in labels). Each pod bound here is admitted first
(``nodeagent.admission``, the kubelet's admission): one this node cannot run, e.g. placed
by hand through ``spec.nodeName``, is Failed with the reason instead of started. The control plane being unreachable only
pauses the watch (reconnect with exponential backoff and jitter) and heartbeats; containers
keep running.

Exception tree: none of its own. Engine errors (``nodeagent.engines.errors``) and API errors
(``controlplane.client``) are caught per action, per pass or per loop iteration, logged and
retried; ``run()`` ends only when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from mixfleet.client import APIError, Client, GoneError, NotFoundError, UnavailableError
from mixfleet.nodeagent.admission import PodAdmission
from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent.configobjects import ConfigObjects
from mixfleet.nodeagent.containerconfig import ContainerConfigurer
from mixfleet.nodeagent.engines.base import Engine, EngineError, EngineInfo
from mixfleet.nodeagent.events import EventLimits, NodeEvents
from mixfleet.nodeagent.env import EnvResolver
from mixfleet.nodeagent.executor import Executor
from mixfleet.nodeagent.facts import (
    HostFacts,
    detect_host,
    node_conditions,
    node_object,
)
from mixfleet.nodeagent.facts.disk import DEFAULT_MIN_FREE_FRACTION, DiskReport, disk_report
from mixfleet.nodeagent.nodestatus import NodeWriter
from mixfleet.nodeagent.podspec import LABEL_NODE, LABEL_POD_UID, MANAGED, pod_uid
from mixfleet.nodeagent.probes import Prober
from mixfleet.nodeagent.reconcile import Wait, next_wake, plan
from mixfleet.nodeagent.volumes import VolumeManager
from mixfleet.nodeagent.volumes import claim as claim_volumes
from mixfleet.nodeagent.sandbox import SandboxConfig
from mixfleet.util import log
from mixfleet.util.aio import run_together, wait_event

_log = log.get("nodeagent")


def default_root_dir(node_name: str) -> str:
    return os.path.join(tempfile.gettempdir(), "mixfleet-agent", node_name)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    heartbeat_seconds: float = 5.0
    lease_duration_seconds: int = 40
    resync_seconds: float = 10.0  # a full reconcile pass at least this often
    node_refresh_seconds: float = 30.0  # re-read engine info and images for the Node
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 300.0
    events_retry_seconds: float = 1.0  # the engine's event stream ended: listen again after
    daemon_endpoint: str = ""  # the NodeAgent gRPC address published in the Node
    host_ip: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] | None = None  # None: the OS default
    # Directories whose filesystems set DiskPressure (the agent's state; the engine's data
    # root is added when it is a directory on this host), and the free share under which
    # they do (kubelet's nodefs.available<10%).
    disk_paths: tuple[str, ...] = ()
    disk_min_free_fraction: float = DEFAULT_MIN_FREE_FRACTION
    events: EventLimits = EventLimits()  # the node's Event writes: timeout, per-object rate
    # Where pod volumes go (<root>/pods/<uid>/volumes/...), like the kubelet's --root-dir;
    # "": <temp dir>/mixfleet-agent/<node>. ConfigMap and Secret volumes are refreshed
    # from the cluster this often.
    root_dir: str = ""
    volume_refresh_seconds: float = 10.0
    # How long a ConfigMap or Secret read from the control plane is used before it is read
    # again (nodeagent/configobjects.py; the kubelet's Cache strategy).
    config_ttl_seconds: float = 10.0
    pod_infra_image: str = ""  # the pod sandbox image; "" = the host's default (nodeagent/sandbox.py)


class Agent:
    def __init__(
        self,
        client: Client,
        engine: Engine,
        node_name: str,
        *,
        facts: HostFacts | None = None,
        config: AgentConfig = AgentConfig(),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.client = client
        self.engine = engine
        self.node_name = node_name
        self.facts = facts or detect_host()
        self.config = config
        self.clock = clock
        self.pods: dict[str, dict[str, Any]] = {}  # uid -> pod, from list + watch
        self.node = NodeWriter(
            client, node_name, lease_duration_seconds=config.lease_duration_seconds
        )
        self.executor = Executor(
            client=client,
            engine=engine,
            clock=clock,
            backoff=BackoffState(config.backoff_base_seconds, config.backoff_cap_seconds),
            host_ip=config.host_ip,
            on_done=self.wake,
        )
        self.executor.pods = self.pods
        self.events = NodeEvents(client, node_name, limits=config.events)
        self.executor.events.recorder = self.events
        self.admission = PodAdmission(client, node_name, local_node=self._node_object)
        self.prober = Prober(engine, on_change=self.wake, on_unhealthy=self.executor.events.unhealthy)
        self.executor.ready_ids = self.prober.ready
        self.executor.started_ids = self.prober.started
        self._wake = asyncio.Event()
        self._images: frozenset[str] | None = None
        self._disk_pressure = False
        self._synced = asyncio.Event()  # set once the first list of pods arrived
        self.passes = 0  # reconcile passes done (for tests and metrics)
        self._backed_off: dict[tuple[str, str], datetime] = {}  # BackOff said for these
        # Only this node's containers: several agents may share one engine.
        self.container_labels = {**MANAGED, LABEL_NODE: node_name}
        self.executor.container_labels = self.container_labels
        self.objects = ConfigObjects(client, ttl_seconds=config.config_ttl_seconds)
        self.volumes = VolumeManager(
            config.root_dir or default_root_dir(node_name),
            host_os=self.facts.os,
            host_fs=engine.host_filesystem,
            get_object=self.objects.get,
        )
        self._allocatable: dict[str, str] = {}
        env = EnvResolver(self.objects.get, node_name=node_name, host_ip=lambda: config.host_ip,
                          allocatable=lambda: self._allocatable)
        self.executor.configure = ContainerConfigurer(
            self.volumes, env, host_os=self.facts.os, image_user=engine.image_user
        ).configure
        self._with_containers: set[str] = set()  # pod uids the last pass saw containers of
        self.sandbox = SandboxConfig.for_host(
            host_os=self.facts.os, host_build=self.facts.os_build, image=config.pod_infra_image
        )

    def wake(self) -> None:
        self._wake.set()

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled."""
        _log.info("agent.starting", node=self.node_name, os=self.facts.os)
        await self._retrying(self._register)
        loops = [
            self._heartbeat_loop(),
            self._node_loop(),
            self._watch_loop(),
            self._reconcile_loop(),
            self._events_loop(),
            self._volumes_loop(),
            self.prober.run(),
            self.events.run(),
        ]
        try:
            await run_together(*loops)
        finally:
            await self.executor.close()
            _log.info("agent.stopped", node=self.node_name)

    async def _retrying(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Call fn until it succeeds: the control plane may not be up yet."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((APIError, EngineError)),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
        ):
            with attempt:
                await fn()

    async def _register(self) -> None:
        await self.node.register(await self._node_object())
        await self.node.renew_lease(self.clock())

    # -- the Node and its Lease ----------------------------------------------------------
    async def _node_object(self) -> dict[str, Any]:
        now = self.clock()
        try:
            info = await self.engine.info()
            images = await self.engine.list_images()
            disk = self._disk(info)
            conditions = node_conditions(
                now=now, engine_ready=True,
                disk_pressure=disk.pressure, disk_message=disk.message,
            )
        except EngineError as e:
            info, images = None, []
            disk = self._disk(None)
            conditions = node_conditions(
                now=now, engine_ready=False, engine_message=e.message,
                disk_pressure=disk.pressure, disk_message=disk.message,
            )
        if disk.pressure != self._disk_pressure:  # said once per change, not every refresh
            self._disk_pressure = disk.pressure
            if disk.pressure:
                _log.warning("node.disk_pressure", node=self.node_name, reason=disk.message)
            else:
                _log.info("node.disk_pressure_gone", node=self.node_name)
        if info is not None:
            self._images = frozenset(n for i in images for n in i.names)
        node = node_object(
            self.facts,
            name=self.node_name,
            engine_info=info,
            images=images,
            conditions=conditions,
            daemon_endpoint=self.config.daemon_endpoint,
            labels=self.config.labels,
            taints=(
                [dict(t) for t in self.config.taints] if self.config.taints is not None else None
            ),
        )
        self._allocatable = dict(node["status"].get("allocatable") or {})  # resourceFieldRef
        return node

    def _disk(self, info: EngineInfo | None) -> DiskReport:
        paths = (*self.config.disk_paths, *((info.data_root,) if info and info.data_root else ()))
        return disk_report(paths, min_free_fraction=self.config.disk_min_free_fraction)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                await self.node.renew_lease(self.clock())
            except APIError as e:
                _log.warning("lease.renew_failed", node=self.node_name, error=str(e))

    async def _node_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.node_refresh_seconds)
            await self.refresh_node()

    async def refresh_node(self) -> None:
        """Re-read facts from the engine; write the Node only when something changed. A Node
        that is gone (``mixctl delete node``) is registered again, facts and all, as the
        agent does on start: its pods were removed with it (controllers/podgc.py), and the
        reconcile loop stops their containers as orphans."""
        desired = await self._node_object()
        try:
            if not await self.node.update_status(desired["status"]):
                # Nothing to write: still make sure the Node is there (one read per refresh).
                await self.client.get("Node", self.node_name)
        except NotFoundError:
            await self._reregister(desired)
        except APIError as e:
            _log.warning("node.update_failed", node=self.node_name, error=str(e))

    async def _reregister(self, desired: dict[str, Any]) -> None:
        try:
            await self.node.register(desired)
        except APIError as e:
            _log.warning("node.reregister_failed", node=self.node_name, error=str(e))
            return
        _log.warning("node.reregistered", node=self.node_name,
                     why="the Node object was deleted while this agent ran")

    # -- pods ------------------------------------------------------------------------------
    async def _watch_loop(self) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(APIError),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
        ):
            with attempt:
                await self._list_and_watch()

    async def _list_and_watch(self) -> None:
        selector = f"spec.nodeName={self.node_name}"
        pods, revision = await self.client.list("Pod", all_namespaces=True, field_selector=selector)
        self.pods.clear()
        self.pods.update({pod_uid(p): p for p in pods})
        self._synced.set()
        self.wake()
        try:
            async for ev in self.client.watch(
                "Pod", all_namespaces=True, field_selector=selector, from_revision=revision + 1
            ):
                if ev.type == "DELETED":
                    self.pods.pop(pod_uid(ev.object), None)
                elif ev.type in ("ADDED", "MODIFIED"):
                    self.pods[pod_uid(ev.object)] = ev.object
                self.wake()
        except GoneError:
            _log.info("watch.relist", node=self.node_name)
            raise
        # The server ended the stream: list and watch again.
        raise UnavailableError("watch stream ended")

    async def _events_loop(self) -> None:
        """Wake the reconcile loop whenever one of our containers changes state."""
        while True:
            try:
                async with contextlib.aclosing(self.engine.events(self.container_labels)) as ev:
                    async for _ in ev:
                        self.wake()
            except EngineError as e:
                _log.warning("engine.events_failed", node=self.node_name, error=e.message)
            await asyncio.sleep(self.config.events_retry_seconds)  # the resync covers the gap

    async def _volumes_loop(self) -> None:
        """Refresh volumes that follow API objects; remove those of pods that are gone
        (not bound here any more and without containers: the kubelet's orphan cleanup),
        then the data of claims deleted from the cluster that no pod here uses."""
        await self._synced.wait()
        while True:
            await asyncio.sleep(self.config.volume_refresh_seconds)
            await self.volumes.cleanup(set(self.pods) | self._with_containers)
            await claim_volumes.collect(self.volumes.root, self.volumes.get_object)
            await self.volumes.refresh(
                p for p in list(self.pods.values())
                if not (p.get("metadata") or {}).get("deletionTimestamp")
            )

    async def _reconcile_loop(self) -> None:
        await self._synced.wait()  # never plan from an empty cache: it would remove everything
        while True:
            self._wake.clear()  # before the pass: a wake during the pass means "look again"
            wake_at = await self.sync_once()
            timeout = self.config.resync_seconds
            if wake_at is not None:
                timeout = min(timeout, max(0.05, (wake_at - self.clock()).total_seconds()))
            await wait_event(self._wake, timeout)

    def _back_off_events(self, actions: list[Any]) -> None:
        """One BackOff event per back-off period of a container (a pass runs on every wake;
        the count says how many periods, not how many passes)."""
        waits = {(a.pod_uid, a.container): a.until for a in actions if isinstance(a, Wait)}
        for key, until in waits.items():
            if self._backed_off.get(key) != until:
                failure = self.executor.backoff.failures.get(key)
                pulling = ""
                if failure is not None and failure.reason == "ErrImagePull":
                    pulling = self.executor.events.image_of(*key)
                self.executor.events.back_off(*key, pulling=pulling)
        self._backed_off = waits

    async def sync_once(self) -> datetime | None:
        """One level-triggered pass; returns when the next back-off ends, if any."""
        try:
            if self.executor.images_stale or self._images is None:
                self.executor.images_stale = False
                self._images = frozenset(
                    n for i in await self.engine.list_images() for n in i.names
                )
            actual = await self.engine.list_containers(self.container_labels)
        except EngineError as e:
            _log.warning("reconcile.engine_unavailable", node=self.node_name, error=e.message)
            return None
        running = {c.labels.get(LABEL_POD_UID, "") for c in actual}
        self._with_containers = running
        await self.admission.admit_new(self.pods, running)
        desired = [
            self.admission.bound(p) for p in self.pods.values()
            if self.admission.runnable(p, has_containers=pod_uid(p) in running)
        ]
        ex = self.executor
        ex.backoff = ex.backoff.forget_pods({pod_uid(p) for p in desired})
        self.prober.sync(desired, actual, wall_now=self.clock())
        actions = plan(
            desired,
            actual,
            now=self.clock(),
            backoff_state=ex.backoff,
            host_os=self.facts.os,
            present_images=self._images,
            node_name=self.node_name,
            unhealthy=self.prober.unhealthy,
            sandbox=self.sandbox,
        )
        ex.dispatch(actions, actual)
        self._back_off_events(actions)
        self.passes += 1
        return next_wake(actions)
