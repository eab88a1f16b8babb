"""EtcdStore: the Store interface on etcd v3 through aetcd.

Every key lives under ``prefix`` (store key "/pods/a" is etcd key "/mixfleet/pods/a");
``mod_revision`` is etcd's own, so resourceVersion is the etcd revision.

Failure handling, all in this module:
- ``_translate`` is the one place that maps aetcd/grpc exceptions onto the store tree.
- ``EtcdStore.call`` runs one request with tenacity: transient errors (unavailable,
  deadline, a channel closed under us) rotate to the next endpoint and retry with
  exponential backoff and jitter, for at most ``retry_budget`` seconds, then raise
  UnavailableError chained from the last error. aetcd's Client talks to one host only,
  hence the rotation here.
- ``watch`` resumes a broken stream from the last delivered revision + 1, so callers see
  neither gaps nor duplicates; compaction surfaces as CompactedError.

A retried write whose first attempt did reach etcd may report AlreadyExists/Conflict on the
retry; callers already treat those as "re-read and decide", so this is safe.
"""

from __future__ import annotations

import asyncio
import functools
import random
from typing import AsyncGenerator, Awaitable, Callable, Sequence, TypeVar

import aetcd
import grpc
from aetcd import rpc, watcher
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from mixfleet.pki.material import TLSMaterial
from mixfleet.store.base import (
    KV,
    CompactedError,
    EventType,
    Op,
    OpKind,
    Store,
    StoreClosedError,
    StoreError,
    StoreFullError,
    UnavailableError,
    WatchEvent,
)
from mixfleet.store.embedded import check_unique_keys, precondition_error, prefix_range
from mixfleet.util import log
from mixfleet.util.aio import within

_log = log.get("store.etcd")
_T = TypeVar("_T")

DEFAULT_PREFIX = "/mixfleet"
_LIST_PAGE = 1000  # keys per Range request when listing, to stay under message limits
_TRANSIENT_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_CHANNEL_OPTIONS = {
    # Notice a silently dead member (no RST) on an idle watch stream within ~15s.
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    # gRPC's reconnect backoff grows to 120 s, and its subchannels are shared process-wide
    # (so a new channel after a failover inherits the backoff): after a two-minute outage
    # the store went on failing for a minute or more with etcd back. Reconnect at most ~2 s
    # apart, on subchannels of our own.
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.min_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 2_000,
    "grpc.use_local_subchannel_pool": 1,
}


class _TLSClient(aetcd.Client):  # type: ignore[misc]
    """aetcd's Client over TLS (aetcd dials plaintext only): its ``connect`` with a secure
    channel; the rest of aetcd is unchanged. Client certificate authentication only (etcd's
    --client-cert-auth), no username and password."""

    def __init__(self, host: str, port: int, *, credentials: grpc.ChannelCredentials, **kwargs: object) -> None:
        super().__init__(host, port, **kwargs)
        self._credentials = credentials

    async def connect(self) -> None:
        if self._connected.is_set():
            return
        if self._is_connecting:  # type: ignore[has-type]  # another task is connecting: wait, as aetcd does
            await asyncio.wait_for(self._connected.wait(), self._connect_wait_timeout)
            return
        try:
            self._is_connecting = True
            self.channel = grpc.aio.secure_channel(
                f"{self._host}:{self._port}", self._credentials, options=list(self._options.items())
            )
            self.kvstub = rpc.KVStub(self.channel)
            self.clusterstub = rpc.ClusterStub(self.channel)
            self.leasestub = rpc.LeaseStub(self.channel)
            self.maintenancestub = rpc.MaintenanceStub(self.channel)
            self._watcher = watcher.Watcher(rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata)
            self._connected.set()
        finally:
            self._is_connecting = False


def _credentials(tls: TLSMaterial) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert)


class _Transient(Exception):
    """Internal marker: the watch stream ended without being asked to."""


def _is_transient(e: BaseException) -> bool:
    if isinstance(e, (aetcd.ConnectionFailedError, aetcd.ConnectionTimeoutError)):
        return True
    if isinstance(e, (aetcd.WatchTimeoutError, asyncio.TimeoutError, OSError, _Transient)):
        return True
    if isinstance(e, grpc.aio.AioRpcError):
        return e.code() in _TRANSIENT_CODES
    # A concurrent failover closed the channel this call was using: retry on the new one.
    # gRPC reports a call on a channel closed under it as CancelledError, though nobody
    # cancelled the caller's task: given back as is, it ended the watch cache's task as
    # "cancelled" after an etcd outage, and with it every leader loop waiting on that cache.
    if isinstance(e, asyncio.CancelledError):
        return not _cancelling()
    return isinstance(e, grpc.aio.UsageError)


def _describe(e: BaseException | None) -> str:
    if isinstance(e, grpc.aio.AioRpcError):
        return f"{e.code().name}: {e.details()}"
    return repr(e)


def _translate(e: BaseException, *, requested: int = 0) -> Exception:
    """The one mapping from aetcd/grpc errors onto the store's exception tree."""
    if isinstance(e, StoreError):
        return e
    if isinstance(e, aetcd.RevisionCompactedError):
        return CompactedError(requested, e.compacted_revision)
    if _is_transient(e):
        return UnavailableError(f"etcd unavailable: {_describe(e)}")
    text = (e.details() if isinstance(e, grpc.aio.AioRpcError) else str(e)) or ""
    if "required revision has been compacted" in text:  # a Range at a compacted revision
        return CompactedError(requested, 0)
    if "database space exceeded" in text:  # etcd's NOSPACE alarm (quota-backend-bytes)
        return StoreFullError(
            f"store disk full: etcd's space quota is exceeded ({text}); creates and updates "
            "are refused, reads and deletes still work; an operator compacts and defragments "
            "etcd, then runs `etcdctl alarm disarm`"
        )
    if isinstance(e, aetcd.InvalidArgumentError) or "future revision" in text:
        return ValueError(f"etcd rejected the request: {text}")
    return StoreError(f"etcd error: {text}")


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """"host:port" (optionally with http://, IPv6 in brackets) -> (host, port)."""
    hostport = endpoint.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"etcd endpoint must be host:port, got {endpoint!r}")
    return host.strip("[]"), int(port)


class EtcdStore(Store):
    """Store on an etcd cluster reached through any of ``endpoints`` ("host:port")."""

    def __init__(
        self,
        endpoints: list[str],
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        *,
        retry_budget: float = 15.0,
        tls: TLSMaterial | None = None,
    ) -> None:
        """``tls``: the CA that signed etcd's serving certificate, and the client certificate
        and key etcd asks for (--etcd-cafile, --etcd-certfile, --etcd-keyfile); None:
        plaintext."""
        if not endpoints:
            raise ValueError("EtcdStore needs at least one endpoint")
        self.endpoints = list(endpoints)
        self._hosts = [parse_endpoint(e) for e in endpoints]
        self.prefix = prefix.rstrip("/")
        self.timeout = timeout
        self.retry_budget = retry_budget
        self._index = 0
        self._credentials = _credentials(tls) if tls is not None else None
        self._client: aetcd.Client | None = None
        self._closed = False

    # -- connection, retries, failover --------------------------------------------------

    def _current(self) -> aetcd.Client:
        if self._client is None:
            host, port = self._hosts[self._index]
            if self._credentials is not None:
                self._client = _TLSClient(
                    host, port, credentials=self._credentials, timeout=self.timeout, options=_CHANNEL_OPTIONS
                )
            else:
                self._client = aetcd.Client(
                    host, port, timeout=self.timeout, options=_CHANNEL_OPTIONS  # type: ignore[arg-type]
                )
        return self._client

    async def _failover(self, failed: aetcd.Client) -> None:
        """Drop ``failed`` and move to the next endpoint, unless another task already did."""
        client = failed  # the identity check below narrows ``failed`` to what _client may be
        if self._client is not failed:
            return
        self._client = None
        self._index = (self._index + 1) % len(self._hosts)
        try:
            # aetcd's close() waits for its watcher to shut down, which can hang on a dead
            # channel: bound it, or every caller retrying through here would hang with it.
            await within(client.close(), self.timeout)
        except (Exception, asyncio.TimeoutError) as e:  # closing a broken channel may fail
            _log.debug("store.client_close_failed", error=repr(e))

    async def call(self, fn: Callable[[aetcd.Client], Awaitable[_T]]) -> _T:
        """Run fn(client) with failover and bounded retries; errors come out translated.
        Public so that store.election can run its lease and txn requests the same way."""
        if self._closed:
            raise StoreClosedError("etcd store is closed")
        clients: list[aetcd.Client] = []

        async def before_sleep(state: RetryCallState) -> None:
            err = state.outcome.exception() if state.outcome else None
            _log.warning(
                "store.retry",
                endpoint=self.endpoints[self._index],
                attempt=state.attempt_number,
                error=_describe(err),
            )
            await self._failover(clients[-1])

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: _is_transient(e) and not _cancelling()),
            wait=wait_exponential(multiplier=0.05, max=1.0) + wait_random(0, 0.05),
            stop=stop_after_delay(self.retry_budget),
            before_sleep=before_sleep,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    clients.append(self._current())
                    return await fn(clients[-1])
        except RetryError as e:
            last = e.last_attempt.exception()
            _raise_if_cancelling(last)
            raise UnavailableError(
                f"etcd unreachable at {self.endpoints} for {self.retry_budget}s: {_describe(last)}"
            ) from last
        except StoreError:
            raise
        except Exception as e:
            _raise_if_cancelling(e)
            raise _translate(e) from e
        raise AssertionError("unreachable")  # pragma: no cover

    # -- keys ---------------------------------------------------------------------------

    def full_key(self, key: str) -> bytes:
        return (self.prefix + key).encode()

    def _key(self, etcd_key: bytes) -> str:
        return etcd_key.decode()[len(self.prefix) :]

    def _kv(self, kv: rpc.KeyValue) -> KV:
        return KV(self._key(kv.key), kv.value, kv.create_revision, kv.mod_revision)

    # -- reads --------------------------------------------------------------------------

    async def get(self, key: str) -> KV | None:
        req = rpc.RangeRequest(key=self.full_key(key))
        resp = await self.call(lambda c: _range(c, req, self.timeout))
        return self._kv(resp.kvs[0]) if resp.kvs else None

    async def list(self, prefix: str) -> tuple[list[KV], int]:
        lo, hi = prefix_range(self.prefix + prefix)
        out: list[KV] = []
        revision = 0  # 0 = latest for the first page; later pages pin its revision
        while True:
            req = rpc.RangeRequest(key=lo, range_end=hi or b"\0", limit=_LIST_PAGE,
                                   revision=revision)
            resp = await self.call(functools.partial(_range, req=req, timeout=self.timeout))
            revision = revision or resp.header.revision
            out.extend(self._kv(kv) for kv in resp.kvs)
            if not resp.more or not resp.kvs:
                return out, revision
            lo = resp.kvs[-1].key + b"\0"

    async def current_revision(self) -> int:
        req = rpc.RangeRequest(key=self.full_key("/"), count_only=True)
        resp = await self.call(lambda c: _range(c, req, self.timeout))
        return int(resp.header.revision)

    # -- writes -------------------------------------------------------------------------

    async def txn(self, ops: Sequence[Op]) -> int:
        check_unique_keys(ops)
        req = rpc.TxnRequest()
        checked: list[Op] = []
        for op in ops:
            key = self.full_key(op.key)
            compares = _compares(op, key)
            if compares:
                checked.append(op)
                req.compare.extend(compares)
                req.failure.append(rpc.RequestOp(request_range=rpc.RangeRequest(key=key)))
            req.success.append(_write_op(op, key))
        resp = await self.call(lambda c: _txn(c, req, self.timeout))
        if resp.succeeded:
            return int(resp.header.revision)
        # The failure branch read every checked key in the same txn: find the first op
        # whose precondition does not hold, exactly as the embedded store would report it.
        for op, r in zip(checked, resp.responses):
            kvs = r.response_range.kvs
            if (err := precondition_error(op, self._kv(kvs[0]) if kvs else None)) is not None:
                raise err
        raise StoreError(f"etcd txn failed without a failing precondition: {ops}")

    async def compact(self, revision: int) -> None:
        try:
            await self.call(lambda c: c.compact(revision))
        except CompactedError:
            return  # already compacted at or past it: nothing to do
        _log.info("store.compacted", revision=revision)

    # -- watch --------------------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[WatchEvent, None]:
        """Follows changes under prefix; reconnects from the next revision after a stream
        failure, so a caller never sees a gap or a duplicate."""
        nxt = start_revision if start_revision > 0 else await self.current_revision() + 1
        lo, hi = prefix_range(self.prefix + prefix)
        failures = 0
        while not self._closed:
            used: list[aetcd.Client] = []

            async def open_stream(c: aetcd.Client) -> aetcd.Watch:
                used.append(c)
                return await c.watch(lo, range_end=hi or b"\0", start_revision=nxt, prev_kv=True)

            stream = await self.call(open_stream)
            try:
                async for ev in stream:
                    failures = 0
                    event = self._event(ev)
                    nxt = event.revision + 1
                    yield event
                if self._closed:
                    return
                raise _Transient("watch stream ended")
            except (Exception, asyncio.CancelledError) as e:
                _raise_if_cancelling(e)
                if isinstance(e, asyncio.CancelledError) and not _is_transient(e):
                    raise
                if not _is_transient(e):
                    raise _translate(e, requested=nxt) from e
                failures += 1
                _log.warning("store.watch_reconnect", revision=nxt, error=_describe(e))
                await self._failover(used[-1])
                await asyncio.sleep(min(0.05 * 2**failures, 1.0) * random.uniform(0.5, 1.0))
            finally:
                await _cancel_quietly(stream, self.timeout)

    def _event(self, ev: aetcd.Event) -> WatchEvent:
        # aetcd wraps an absent prev_kv as an empty KeyValue (create_revision 0).
        prev = ev.prev_kv if ev.prev_kv is not None and ev.prev_kv.create_revision else None
        rev = ev.kv.mod_revision
        if ev.kind == EventType.DELETE.value:
            # etcd's DELETE kv carries no value; the contract wants the last value.
            value, created = (prev.value, prev.create_revision) if prev else (b"", 0)
            kv = KV(self._key(ev.kv.key), value, created, rev)
            return WatchEvent(EventType.DELETE, kv, prev.value if prev else None, rev)
        kv = KV(self._key(ev.kv.key), ev.kv.value, ev.kv.create_revision, rev)
        return WatchEvent(EventType.PUT, kv, prev.value if prev else None, rev)

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


def _compares(op: Op, key: bytes) -> list[rpc.Compare]:
    t = aetcd.Transactions()
    if op.kind is OpKind.CREATE:
        compares = [t.create(key) == 0]
    elif op.expected_mod_revision is None:  # PUT, unconditional DELETE
        return []
    elif op.expected_mod_revision > 0:
        # One compare per op: etcd's --max-txn-ops (128) counts compares too, and an absent
        # key's mod revision is 0, so it cannot match a revision > 0 anyway.
        compares = [t.mod(key) == op.expected_mod_revision]
    else:  # version > 0 too: mod == 0 alone would also match an absent key
        compares = [t.mod(key) == op.expected_mod_revision, t.version(key) > 0]
    return [c.build_message() for c in compares]


def _write_op(op: Op, key: bytes) -> rpc.RequestOp:
    if op.kind is OpKind.DELETE:
        return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key))
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=op.value))


# Raw stubs for Range and Txn: aetcd's wrappers drop the response header, which carries
# the revision the contract returns.


async def _range(client: aetcd.Client, req: rpc.RangeRequest, timeout: float) -> rpc.RangeResponse:
    await client.connect()
    return await client.kvstub.Range(req, timeout=timeout, metadata=client.metadata)


async def _txn(client: aetcd.Client, req: rpc.TxnRequest, timeout: float) -> rpc.TxnResponse:
    await client.connect()
    return await client.kvstub.Txn(req, timeout=timeout, metadata=client.metadata)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _raise_if_cancelling(e: BaseException | None) -> None:
    """aetcd and gRPC can turn the cancellation of our task into an error of their own (a
    watch timeout, a failed connection). Retried, it would swallow the cancellation, and the
    caller's stop() would wait for ever: give it back as what it is."""
    if _cancelling():
        raise asyncio.CancelledError() from e


async def _cancel_quietly(stream: aetcd.Watch, timeout: float) -> None:
    # Bounded like close() in _failover: cancelling a watch whose channel died (etcd went
    # away and came back) can wait forever, and this runs in the watch's ``finally``, where
    # a caller's cancellation has already been delivered: unbounded, it hangs the caller's
    # shutdown (a control plane's stop) for good.
    try:
        await within(stream.cancel(), timeout)
    except (Exception, asyncio.TimeoutError) as e:  # the stream's channel may already be gone
        _log.debug("store.watch_cancel_failed", error=repr(e))
