"""Per-client limits on the API server, so one client cannot slow everyone (like the Kubernetes
API server's max-in-flight and priority-and-fairness filters, much simplified):

* a client may hold at most ``max_watches`` open Watch streams (``--max-watches-per-client``):
  every such watch costs the server a send on every change of its kind. A watch pinned to
  one node's objects (``spec.nodeName=<node>``, what every node agent opens) is not counted:
  the watch cache's index wakes it only for that node's changes, and one agent process runs
  hundreds of simulated nodes over one connection (``mixfleet agent --simulate ...x500``);
* a client may make ``requests_per_second`` requests, with bursts up to ``burst``, a token
  bucket (``--max-requests-per-client``). Opening a watch is one request; the events it
  streams are not.

Over a limit the call is refused with RESOURCE_EXHAUSTED naming the limit and its flag, and
the trailing metadata ``mixfleet-limit`` (``watches-per-client`` or ``requests-per-client``,
so a client can tell it from a request too large). A request-rate refusal also carries
``mixfleet-retry-after-ms`` (the HTTP 429 + Retry-After of the Kubernetes API server), which
the client library takes as "retry with backoff"; a watch-limit refusal has none (retrying
does not help until the client closes watches). Health checks and reflection are exempt, as the Kubernetes API server
exempts its health endpoints: a probe must not fail because one client is busy.

Every Watch stream that ends is logged once as ``watch.ended`` with its reason.

Writers are not to wait behind watchers either. The API server is one event loop, and every
watch event it sends is a few loop steps of gRPC work (~0.1 ms): a change seen by 2,000
watchers queued 2,000 sends in front of the next write's own steps, and creating 100 pods
took 40 s instead of 0.5 s. So at most ``SENDING_WATCHES`` watch streams send at once (the
others wait their turn, in order): the loop's queue stays short and a write goes through
between sends. Watchers get the same throughput in total, a write is no longer last in line.

Who "a client" is comes from :func:`client_identity`: the authenticated user or node, or on
a plaintext server the gRPC peer (one channel's connection).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc

from mixfleet.api.errors import InvalidObjectError
from mixfleet.controlplane.authn import current_identity
from mixfleet.controlplane.registry import ObjectFilter
from mixfleet.controlplane.watchcache import INDEXED_FIELD
from mixfleet.util import log
from mixfleet.util.ratelimit import TokenBucket

_log = log.get("fairness")

LIMIT_KEY = "mixfleet-limit"
RETRY_AFTER_KEY = "mixfleet-retry-after-ms"

# gRPC core queues calls the application has not picked up yet, and above
# ``grpc.server.max_pending_requests`` (default 1000) it cancels new ones at random, more of
# them the nearer the queue is to ``..._hard_limit`` (default 3000): the client sees a bare
# CANCELLED and the server logs nothing, since no handler ever ran. 2,000 watches opened at
# once by one client lost ~10% of them that way. The limits here are high enough for such a
# burst to reach the handlers, which refuse what is over a client's limit with a reason.
GRPC_SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 40_000),
)


# How many watch streams may be sending an event at once (see the module docstring). Small:
# a write waits behind at most this many sends; not 1, so a send's own round trip through
# gRPC's completion queue overlaps with the next stream's work.
SENDING_WATCHES = 4


def client_identity(context: grpc.aio.ServicerContext) -> str:
    """Who is calling, for per-client limits and logs: the authenticated user or node
    (set by controlplane/authn.py, which runs first), so that one identity's limits hold
    across all its connections, as the API server's flow control keys on the user; on a
    plaintext server, where every caller is the same trusted admin, the gRPC peer
    (``ipv4:127.0.0.1:5312``: one connection, one Client object)."""
    ident = current_identity()
    if ident.via in ("certificate", "token"):
        return ident.username
    return str(context.peer())


@dataclass(frozen=True, slots=True)
class FairnessLimits:
    """0 for a limit means none."""

    max_watches: int = 200
    requests_per_second: float = 500.0
    burst: float = 1000.0

    @classmethod
    def from_flags(cls, *, max_watches: int, requests_per_second: float) -> "FairnessLimits":
        # One flag for the rate; bursts of twice the rate let a client start up (list every
        # kind, open its watches) without waiting.
        return cls(max_watches=max_watches, requests_per_second=requests_per_second,
                   burst=2 * requests_per_second)


class LimitExceededError(Exception):
    """A client is over one of its limits; the message names it and its flag."""

    def __init__(self, message: str, *, limit: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.limit = limit  # the LIMIT_KEY trailer's value
        self.retry_after = retry_after


@dataclass(slots=True)
class _Client:
    bucket: TokenBucket
    watches: int = 0
    seen: float = 0.0


# Idle clients are forgotten once there are this many, so connections that come and go do
# not grow the table for ever.
_PRUNE_ABOVE = 1024


@dataclass
class ClientLimits:
    """The per-client counters; one per API server."""

    limits: FairnessLimits
    clock: Callable[[], float] = time.monotonic
    # Set by the server's owner before it stops, so the watches it cancels are logged as
    # "server stopping" rather than "client cancelled".
    stopping: bool = False
    _clients: dict[str, _Client] = field(default_factory=dict)

    def _client(self, who: str, now: float) -> _Client:
        c = self._clients.get(who)
        if c is None:
            if len(self._clients) >= _PRUNE_ABOVE:
                self._prune(now)
            c = self._clients[who] = _Client(TokenBucket(
                self.limits.requests_per_second, self.limits.burst, self.limits.burst, now))
        c.seen = now
        return c

    def _prune(self, now: float) -> None:
        refill = self.limits.burst / self.limits.requests_per_second if self.limits.requests_per_second else 0.0
        for who, c in list(self._clients.items()):
            if c.watches == 0 and now - c.seen > refill:  # its bucket is full again: nothing to keep
                del self._clients[who]

    def admit_request(self, who: str) -> None:
        """Take one request from ``who``'s budget, or raise LimitExceededError."""
        if self.limits.requests_per_second <= 0:
            return
        now = self.clock()
        wait = self._client(who, now).bucket.take(now)
        if wait:
            raise LimitExceededError(
                f"too many requests from this client: over {self.limits.requests_per_second:g}/s "
                f"(bursts of {self.limits.burst:g}) (--max-requests-per-client); retry later",
                limit="requests-per-client",
                retry_after=wait,
            )

    def open_watch(self, who: str) -> None:
        """Count one more open watch for ``who``, or raise LimitExceededError."""
        c = self._client(who, self.clock())
        if self.limits.max_watches > 0 and c.watches >= self.limits.max_watches:
            raise LimitExceededError(
                f"too many watches from this client: {c.watches} open (--max-watches-per-client"
                f" is {self.limits.max_watches}; watches pinned by {INDEXED_FIELD} do not count);"
                " close some or share one watch per kind",
                limit="watches-per-client",
                retry_after=None,
            )
        c.watches += 1

    def close_watch(self, who: str) -> None:
        c = self._clients.get(who)
        if c is not None and c.watches > 0:
            c.watches -= 1

    def open_watches(self, who: str) -> int:
        c = self._clients.get(who)
        return c.watches if c is not None else 0


# --- the gRPC side ------------------------------------------------------------------------

_Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
_StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


async def _refuse(context: grpc.aio.ServicerContext, e: LimitExceededError) -> None:
    trailing: tuple[tuple[str, str], ...] = ((LIMIT_KEY, e.limit),)
    if e.retry_after is not None:
        trailing += ((RETRY_AFTER_KEY, str(max(1, round(e.retry_after * 1000)))),)
    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e), trailing_metadata=trailing)


def _counted(request: Any) -> bool:
    """Whether a watch counts toward its client's limit: not when pinned by the watch
    cache's index field, which keeps it from every other change of its kind."""
    try:
        match = ObjectFilter(str(getattr(request, "label_selector", "")), str(getattr(request, "field_selector", "")))
    except InvalidObjectError:
        return True  # the handler refuses it with the reason
    return match.required_value(INDEXED_FIELD) is None


def _ended_by_status(context: grpc.aio.ServicerContext) -> str:
    """Why a watch the server aborted ended, from the status it was given."""
    code = context.code()
    details = str(context.details() or "")
    if code is grpc.StatusCode.OUT_OF_RANGE:
        # watchcache.WatchClosedError: the watcher fell behind (too slow), the cache
        # re-listed, or the revision asked for is compacted; the client re-lists either way.
        return "too slow" if "too far behind" in details else "re-list required"
    if code is grpc.StatusCode.UNAVAILABLE:
        return "store unavailable"
    name = getattr(code, "name", str(code))
    return f"refused: {name}"


class _SendSlot:
    """One stream's place among the SENDING_WATCHES: given back exactly once per taking."""

    def __init__(self, sending: asyncio.Semaphore) -> None:
        self._sending = sending
        self._held = False

    async def acquire(self) -> None:
        await self._sending.acquire()
        self._held = True

    def release(self, _context: Any = None) -> None:
        if self._held:
            self._held = False
            self._sending.release()


class FairnessInterceptor(grpc.aio.ServerInterceptor):
    """Applies :class:`ClientLimits` to every call of ``service``, and logs how each watch
    ends. Handlers are wrapped rather than checked in ``intercept_service`` because only the
    handler's context knows the peer."""

    def __init__(self, limits: ClientLimits, *, service: str, watch_method: str = "Watch") -> None:
        self.limits = limits
        self._prefix = f"/{service}/"
        self._watch = f"/{service}/{watch_method}"
        self._sending = asyncio.Semaphore(SENDING_WATCHES)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method  # type: ignore[attr-defined]
        if handler is None or not method.startswith(self._prefix):
            return handler
        # grpc's stubs type the behaviours as the sync server's; on grpc.aio they are
        # coroutine and async-generator functions.
        unary_unary: Any = handler.unary_unary
        unary_stream: Any = handler.unary_stream
        if method == self._watch and unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._watch_handler(unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_handler(unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_handler(unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        stream_stream: Any = handler.stream_stream
        if stream_stream is not None:  # Exec: opening the session is one request
            return grpc.stream_stream_rpc_method_handler(
                self._stream_handler(stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _unary_handler(self, behavior: _Handler) -> _Handler:
        async def limited(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                self.limits.admit_request(client_identity(context))
            except LimitExceededError as e:
                await _refuse(context, e)
            return await behavior(request, context)

        return limited

    def _stream_handler(self, behavior: _StreamHandler) -> _StreamHandler:
        async def limited(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                self.limits.admit_request(client_identity(context))
            except LimitExceededError as e:
                await _refuse(context, e)
            async for msg in behavior(request, context):
                yield msg

        return limited

    def _watch_handler(self, behavior: _StreamHandler) -> _StreamHandler:
        async def watched(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            who = client_identity(context)
            kind = str(getattr(request, "kind", ""))
            counted = _counted(request)
            try:
                self.limits.admit_request(who)
                if counted:
                    self.limits.open_watch(who)
            except LimitExceededError as e:
                _log.info("watch.ended", kind=kind, client=who, reason="limit", detail=str(e), events=0)
                await _refuse(context, e)
            started, events = time.monotonic(), 0
            reason, detail = "server ended the stream", ""
            slot = _SendSlot(self._sending)
            # A stream ended during a send may never be resumed here (its generator is only
            # closed when collected): the RPC's end gives the slot back all the same. (The
            # stubs type the callback as a class; grpc calls any callable.)
            context.add_done_callback(slot.release)  # type: ignore[arg-type]
            try:
                async for msg in behavior(request, context):
                    events += 1
                    await slot.acquire()  # held until gRPC asks for the next event: the send
                    try:
                        yield msg
                    finally:
                        slot.release()
            except (asyncio.CancelledError, GeneratorExit):
                reason = self._cancel_reason(context)
                raise
            except grpc.aio.AbortError:
                reason, detail = _ended_by_status(context), str(context.details() or "")
                raise
            except Exception as e:
                reason, detail = "error", repr(e)
                raise
            finally:
                if counted:
                    self.limits.close_watch(who)
                _log.info(
                    "watch.ended", kind=kind, client=who, reason=reason, detail=detail[:300],
                    events=events, seconds=round(time.monotonic() - started, 3),
                )

        return watched

    def _cancel_reason(self, context: grpc.aio.ServicerContext) -> str:
        if self.limits.stopping:
            return "server stopping"
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0.05:
            return "deadline"
        return "client cancelled"
