"""One control-plane process: the API server on every replica, and, on the elected leader
only, the scheduler loop and the controllers.

Leadership is an etcd lease (store/election.py); on the embedded store there is one process,
which always leads. When leadership is lost the leader-only loops are cancelled at once, so
a deposed leader stops writing; they write through a registry fenced by the elector
(``Registry.fenced``), which refuses any write from the moment the elector has stepped
down; and every write they make is also a CAS on a revision, which fences a leader that has
not noticed yet.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine

import grpc
from grpc_health.v1 import health_pb2
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from mixfleet.api import limits, podsecurity
from mixfleet.controlplane.access import audit
from mixfleet.controlplane.access.guard import Access
from mixfleet.controlplane.access.tokens import TokenAuthenticator
from mixfleet.controlplane.authn import Authenticator
from mixfleet.controlplane.bootstrap import DEFAULT_NODE_CERT_LIFETIME, BootstrapServicer
from mixfleet.controlplane.compaction import COMPACTION_INTERVAL_SECONDS, compact_periodically
from mixfleet.controlplane.controllers import controller_loops
from mixfleet.controlplane.encryption import encrypted, reseal_once
from mixfleet.controlplane.events import EventRecorder
from mixfleet.controlplane.fairness import ClientLimits, FairnessLimits
from mixfleet.controlplane.logs import LogProxy
from mixfleet.controlplane.registry import ETCD_OBJECTS_PER_APPLY, MAX_OBJECTS_PER_APPLY, Registry
from mixfleet.controlplane.scheduling import SchedulerLoop
from mixfleet.controlplane.pkirecords import RevocationList
from mixfleet.controlplane.server import ServerTLS, code_name, start_server, token_address
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.pki import layout
from mixfleet.pki.material import TLSMaterial
from mixfleet.scheduler import SchedulerConfig
from mixfleet.store import open_store
from mixfleet.store.encrypted import EncryptedStore
from mixfleet.store.base import Store, StoreError
from mixfleet.store.election import LeaderElector, elector_for
from mixfleet.util import log
from mixfleet.util.aio import settle

_log = log.get("controlplane")

# A health service of its own, so a probe can tell "this replica answers the API" (the
# overall service, SERVING on every replica) from "this replica runs the scheduler and the
# controllers" (SERVING only on the leader, while its loops run).
LEADER_HEALTH_SERVICE = "mixfleet.leader"

@dataclass
class ControlPlaneConfig:
    store_url: str
    listen: str = "127.0.0.1:7443"
    strategy: str = "binpack"
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    leader_ttl: float = 5.0
    node_monitor_grace: float = 40.0  # NotReady after this long without a heartbeat
    pod_eviction_timeout: float = 60.0  # pods of a NotReady node are replaced after this
    max_object_bytes: int = limits.MAX_OBJECT_BYTES  # per object, encoded
    compaction_interval: float = COMPACTION_INTERVAL_SECONDS
    # Objects one Apply may carry; 0: what the store commits in time (registry's constants).
    max_objects_per_apply: int = 0
    max_watches_per_client: int = 200  # open Watch streams per client (0: no limit)
    max_requests_per_client: float = 500.0  # requests/s per client, bursts of twice that (0: no limit)
    max_replicas: int = limits.MAX_REPLICAS_PER_WORKLOAD  # spec.replicas a user may ask for
    # The Pod Security level of namespaces without the enforce label (api/podsecurity.py).
    pod_security_default: str = podsecurity.DEFAULT_LEVEL
    audit_log_path: str = "-"  # "-": the process log; else a file of JSON lines (access/audit.py)
    # TLS (pki/layout.py's directory, from `mixfleet certs init`); None: plaintext, which
    # the caller keeps on loopback (`mixfleet dev`, `controlplane --insecure`).
    pki_dir: str | None = None
    token_listen: str = ""  # the TLS port without client certificates; "": --listen's port + 1
    node_cert_lifetime: datetime.timedelta = DEFAULT_NODE_CERT_LIFETIME
    etcd_tls: TLSMaterial | None = None  # TLS to etcd (--etcd-cafile/certfile/keyfile)
    revocation_refresh: float = 2.0  # seconds between re-reads of the revocation list
    # Seal Secrets in the store with the keys in this file (store/encrypted.py); "": plaintext.
    encryption_key_file: str = ""
    job_backoff_seconds: float = 10.0  # a Job's first retry waits this, doubled per failure
    # The clock CronJobs are scheduled by (None: the wall clock; tests pass one they move
    # forward instead of waiting minutes) and how often each CronJob is looked at again
    # besides its timer for the next scheduled time (which a moved clock outdates).
    cronjob_clock: Callable[[], datetime.datetime] | None = None
    cronjob_resync_seconds: float = 30.0


class ControlPlane:
    def __init__(self, config: ControlPlaneConfig, *, store: Store | None = None) -> None:
        self.config = config
        self.store = store
        self.registry: Registry | None = None
        self.server: grpc.aio.Server | None = None
        self.watches: WatchCache | None = None
        self.access: Access | None = None
        self.limits = ClientLimits(FairnessLimits.from_flags(
            max_watches=config.max_watches_per_client,
            requests_per_second=config.max_requests_per_client,
        ))
        self.port = 0
        self.token_port = 0  # the TLS port without client certificates (0: plaintext server)
        self.is_leader = False
        self._health: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        host = self.config.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    @property
    def token_address(self) -> str:
        host = (self.config.token_listen or self.config.listen).rsplit(":", 1)[0]
        return f"{host}:{self.token_port}"

    async def start(self) -> None:
        audit.configure(self.config.audit_log_path)
        if self.store is None:
            self.store = open_store(self.config.store_url, etcd_tls=self.config.etcd_tls)
        self.sealed: EncryptedStore | None = None
        if self.config.encryption_key_file:
            self.sealed = encrypted(self.store, self.config.encryption_key_file)
        else:
            _log.warning("encryption.disabled", hint="Secrets are stored in plaintext: "
                         "give --encryption-key-file (mixfleet encryption-key new FILE)")
        self.registry = Registry(
            self.sealed or self.store,
            max_object_bytes=self.config.max_object_bytes,
            max_objects_per_apply=self._objects_per_apply(),
            max_replicas=self.config.max_replicas,
            pod_security_default=self.config.pod_security_default,
        )
        await self.registry.ensure_system_namespaces()
        self.watches = WatchCache(self.registry)
        pki = layout.load_server(Path(self.config.pki_dir)) if self.config.pki_dir else None
        revocations = RevocationList(self.store, refresh_seconds=self.config.revocation_refresh)
        if pki is not None:
            await revocations.load()  # refuse revoked certificates from the first call
            self._tasks.append(asyncio.create_task(revocations.run(), name="revocations"))
        self.access = Access(self.registry, self.watches, insecure=pki is None, code_for=code_name)
        self.access.start()
        tls = None if pki is None else ServerTLS(
            chain=pki.chain, key=pki.serving.key_pem, ca=pki.ca_pem,
            token_listen=self.config.token_listen or token_address(self.config.listen),
        )
        self.server, self.port, self._health, self.token_port = await start_server(
            self.registry, self.config.listen,
            logs=LogProxy(self.registry, tls=pki.agent_client if pki else None),
            watches=self.watches, limits=self.limits, tls=tls,
            authenticator=Authenticator(insecure=pki is None, revoked=revocations,
                                        bearer=TokenAuthenticator(self.store).identify),
            access=self.access,
            bootstrap=BootstrapServicer(
                self.store, pki.signer if pki else None, node_cert_lifetime=self.config.node_cert_lifetime,
                registry=self.registry,
            ),
        )
        await self._set_leading(False)
        self._tasks.append(asyncio.create_task(self._lead(), name="leadership"))
        _log.info("controlplane.started", address=self.address, identity=self.config.identity)

    def _objects_per_apply(self) -> int:
        if self.config.max_objects_per_apply > 0:
            return self.config.max_objects_per_apply
        if self.config.store_url.startswith("etcd://"):
            return ETCD_OBJECTS_PER_APPLY
        return MAX_OBJECTS_PER_APPLY

    async def _lead(self) -> None:
        assert self.store is not None and self.registry is not None
        elector = elector_for(self.store, self.config.identity, ttl=self.config.leader_ttl)
        while True:
            await self._campaign(elector)
            await self._set_leading(True)
            _log.info("leader.elected", identity=self.config.identity, token=elector.fencing_token)
            loops = [asyncio.create_task(c, name=f"leader:{getattr(c, '__qualname__', 'loop')}")
                     for c in self._leader_loops(elector)]
            lost = asyncio.create_task(elector.lost.wait())
            try:
                await asyncio.wait([lost, *loops], return_when=asyncio.FIRST_COMPLETED)
            finally:
                await self._set_leading(False)
                for t in (lost, *loops):
                    t.cancel()
                await asyncio.gather(lost, *loops, return_exceptions=True)
            for t in loops:
                if t.done() and not t.cancelled() and t.exception():
                    _log.error("leader.loop_failed", error=repr(t.exception()))
            _log.warning("leader.lost", identity=self.config.identity)
            await asyncio.sleep(0.5)

    async def _campaign(self, elector: LeaderElector) -> None:
        """Campaign until won. The store being away (etcd down, or answering too slowly)
        makes a campaign raise: that is retried with backoff for as long as the process
        lives. Letting it end the leadership task left the cluster without a leader for good
        after a 20 s etcd outage."""

        def failed(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            _log.warning(
                "leader.campaign_failed",
                identity=self.config.identity,
                attempt=state.attempt_number,
                error=str(error),
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StoreError),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
            before_sleep=failed,
            reraise=True,
        ):
            with attempt:
                await elector.campaign()

    async def _set_leading(self, leading: bool) -> None:
        self.is_leader = leading
        if self._health is not None:
            status = health_pb2.HealthCheckResponse
            await self._health.set(
                LEADER_HEALTH_SERVICE, status.SERVING if leading else status.NOT_SERVING
            )

    def _leader_loops(self, elector: LeaderElector) -> list[Coroutine[Any, Any, None]]:
        assert self.registry is not None
        # The loops' writes stop the moment the elector steps down, even mid-batch.
        registry = self.registry.fenced(lambda: elector.is_leader)
        scheduler = SchedulerLoop(
            registry,
            config=SchedulerConfig(strategy=self.config.strategy),
            events=EventRecorder(registry, component="mixfleet-scheduler"),
            watches=self.watches,
        )
        return [
            scheduler.run(),
            *controller_loops(registry, self.config, watches=self.watches),
            compact_periodically(self.registry.store, interval=self.config.compaction_interval),
            *([reseal_once(self.sealed)] if self.sealed is not None else []),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        stuck = await settle(self._tasks)
        if stuck:
            _log.error("controlplane.stop_stuck", tasks=stuck)
        if self.server is not None:
            self.limits.stopping = True  # the watches cancelled now are logged as such
            await self.server.stop(grace=1.0)
        if self.access is not None:
            await self.access.stop()
        if self.watches is not None:
            await self.watches.stop()
        if self.store is not None:
            await self.store.close()
        if self.config.audit_log_path != audit.TO_PROCESS_LOG:
            audit.close()
        _log.info("controlplane.stopped", identity=self.config.identity)
