"""The control-plane client: the one adapter mixctl, node agents and tests use to talk gRPC.

Objects go in and come out as plain dicts. gRPC errors are translated here, once, into::

    APIError
    ├── InvalidError        INVALID_ARGUMENT (message lists field paths)
    ├── NotFoundError       NOT_FOUND
    ├── AlreadyExistsError  ALREADY_EXISTS
    ├── ConflictError       ABORTED: resourceVersion conflict, re-read and retry
    ├── GoneError           OUT_OF_RANGE: watch revision compacted, re-list
    ├── ResourceExhaustedError  RESOURCE_EXHAUSTED: the store's disk is full, or over a
    │   │                   per-client limit of the server (``retry_after`` when waiting helps)
    │   └── TooLargeError   too many objects for one request (``limit``)
    ├── UnauthenticatedError UNAUTHENTICATED: no, revoked or refused credentials
    ├── PermissionDeniedError PERMISSION_DENIED
    ├── OutcomeUnknownError DEADLINE_EXCEEDED from the server while it was committing:
    │                       the write may be committed; not retried, repeating is the caller's call
    └── UnavailableError    UNAVAILABLE / DEADLINE_EXCEEDED after retries (temporary)

Transport glitches (UNAVAILABLE) and the server's "too many requests from this client"
(RESOURCE_EXHAUSTED with a retry-after hint) are retried with exponential backoff and
jitter, never sooner than the hint, for up to ``retry_seconds``; every call has a deadline.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Sequence

import grpc
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from mixfleet.pki.material import TLSMaterial
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.util import log

_log = log.get("client")


class APIError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidError(APIError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(APIError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(APIError):
    code = grpc.StatusCode.ALREADY_EXISTS


class ConflictError(APIError):
    code = grpc.StatusCode.ABORTED


class GoneError(APIError):
    code = grpc.StatusCode.OUT_OF_RANGE


class ResourceExhaustedError(APIError):
    """The server refused for want of a resource (the store's disk is full, a request
    larger than its limit, a per-client limit). ``retry_after``: the server's hint, in
    seconds, when waiting helps (its request-rate limit; such calls are retried); None when
    retrying at once will not help (a full disk, too many open watches)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooLargeError(ResourceExhaustedError):
    """A request above the server's objects-per-apply limit (``limit``, when it said)."""

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit  # the server's objects-per-apply limit, when it said so


class OutcomeUnknownError(APIError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnavailableError(APIError):
    code = grpc.StatusCode.UNAVAILABLE


class UnauthenticatedError(APIError):
    """UNAUTHENTICATED: no acceptable credentials (no certificate, a revoked one, a refused
    join token)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(APIError):
    code = grpc.StatusCode.PERMISSION_DENIED


# The server's trailers on a per-client limit refusal (controlplane/fairness.py): which
# limit, and for the request rate how long to wait.
LIMIT_KEY = "mixfleet-limit"
RETRY_AFTER_KEY = "mixfleet-retry-after-ms"


# The server's trailer with its per-request object limit (controlplane/server.py).
MAX_OBJECTS_TRAILER = "mixfleet-max-objects-per-apply"


_BY_CODE: dict[grpc.StatusCode, type[APIError]] = {
    c.code: c
    for c in (
        InvalidError, NotFoundError, AlreadyExistsError, ConflictError, GoneError,
        ResourceExhaustedError, UnauthenticatedError, PermissionDeniedError,
    )
}
_BY_CODE[grpc.StatusCode.UNAVAILABLE] = UnavailableError
_BY_CODE[grpc.StatusCode.DEADLINE_EXCEEDED] = UnavailableError


def translate(err: grpc.RpcError, target: str) -> APIError:
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and (details or "").startswith("outcome unknown"):
        return OutcomeUnknownError(details or "")  # the server's own answer, not a lost connection
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        trailers = _trailers(err)
        if LIMIT_KEY in trailers:  # a per-client limit (controlplane/fairness.py)
            return ResourceExhaustedError(details or code.name, retry_after=_retry_after(trailers))
        limit = _limit(err)
        if limit is not None:
            return TooLargeError(details or code.name, limit=limit)
        return ResourceExhaustedError(details or code.name)
    cls = _BY_CODE.get(code, APIError)
    if cls is UnavailableError:
        details = f"cannot reach the control plane at {target}: {details}"
    return cls(details or code.name)


def _limit(err: grpc.RpcError) -> int | None:
    trailers: Any = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for entry in trailers or ():
        key, value = entry  # a (key, value) pair; grpc's stubs type it loosely
        if key == MAX_OBJECTS_TRAILER and str(value).isdigit():
            return int(value)
    return None


def _trailers(err: grpc.RpcError) -> dict[str, str]:
    trailers: Any = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return {str(k): str(v) for k, v in trailers or ()}


def _retry_after(trailers: dict[str, str]) -> float | None:
    value = trailers.get(RETRY_AFTER_KEY, "")
    return int(value) / 1000 if value.isdigit() else None


def _retryable(err: BaseException) -> bool:
    """Worth another try after a pause: the transport, or the server's request-rate limit."""
    if isinstance(err, ResourceExhaustedError):
        return err.retry_after is not None
    return isinstance(err, UnavailableError)


_backoff = wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.2)


def _wait(state: RetryCallState) -> float:
    """Exponential backoff with jitter, but never sooner than the server asked."""
    err = state.outcome.exception() if state.outcome is not None else None
    hint = getattr(err, "retry_after", None) or 0.0
    return max(_backoff(state), hint)


@dataclass(frozen=True, slots=True)
class AccessReview:
    allowed: bool
    reason: str  # why not
    user: str  # who the server took the caller for
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    object: dict[str, Any]
    revision: int


@dataclass(frozen=True, slots=True)
class ExecInput:
    """One message of an exec session's input: stdin bytes, its end, or a terminal size."""

    stdin: bytes = b""
    close_stdin: bool = False
    resize: tuple[int, int] | None = None  # (width, height)


@dataclass(frozen=True, slots=True)
class ExecOutput:
    """Output of an exec session; the last one carries the command's ``exit_code``."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int | None = None


# Pings on an exec stream, which may be quiet for hours: a control plane that is gone is
# noticed in ~40 s instead of never.
_EXEC_KEEPALIVE_MS = 30_000


def _exec_message(msg: ExecInput) -> pb.ExecInput:
    if msg.resize is not None:
        return pb.ExecInput(resize=pb.TerminalSize(width=msg.resize[0], height=msg.resize[1]))
    if msg.close_stdin:
        return pb.ExecInput(close_stdin=True)
    return pb.ExecInput(stdin=msg.stdin)


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _load(data: bytes) -> dict[str, Any]:
    return json.loads(data) if data else {}


_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.enable_retries", 0),
    # A connection of its own: the control plane counts its per-client limits by
    # connection, and gRPC would otherwise share one among every Client of the
    # process with the same target (mixctl's and an agent's in `mixfleet dev`).
    ("grpc.use_local_subchannel_pool", 1),
    # gRPC's reconnect backoff grows to 120 s: an agent would come back that
    # long after a control plane that was away for a few minutes.
    ("grpc.max_reconnect_backoff_ms", 5_000),
    # An exec may be quiet for hours: pings find a lost connection.
    ("grpc.keepalive_time_ms", _EXEC_KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
]

# How long calls under way on a channel whose certificate was replaced may go on (a watch
# then ends, and its owner lists and watches again on the new channel).
_OLD_CHANNEL_GRACE_SECONDS = 30.0


def channel_for(target: str, tls: TLSMaterial | None, token: str = "") -> grpc.aio.Channel:
    """A channel to ``target``: plaintext without ``tls``; else TLS verified against
    ``tls.ca``, presenting ``tls.cert`` when there is one, with ``token`` as a bearer token."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
    creds = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert)
    if token:
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    options: list[tuple[str, Any]] = list(_CHANNEL_OPTIONS)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(target, creds, options=options)


class Client:
    """Async client. Use ``async with Client(target) as c:`` or call ``close()``.

    ``tls``: TLS to the control plane (its CA; our client certificate and key, for the
    mutual-TLS port); None: plaintext, for a server on loopback. ``token``: a bearer token
    (TLS only). ``set_tls`` replaces the certificate of a running client (rotation)."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 10.0,
        retry_seconds: float = 15.0,
        tls: TLSMaterial | None = None,
        token: str = "",
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.tls = tls
        self._token = token
        self._channel = channel_for(target, tls, token)
        self._stub = pb_grpc.ControlPlaneStub(self._channel)
        self._retired: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for t in self._retired:
            t.cancel()
        await self._channel.close(grace=None)

    def set_tls(self, tls: TLSMaterial) -> None:
        """Use ``tls`` (a renewed certificate) from the next call on: new calls go on a new
        connection at once; the old one is closed once its calls end or after a grace."""
        old = self._channel
        self.tls = tls
        self._channel = channel_for(self.target, tls, self._token)
        self._stub = pb_grpc.ControlPlaneStub(self._channel)
        task = asyncio.create_task(old.close(grace=_OLD_CHANNEL_GRACE_SECONDS), name="client.retire_channel")
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def _call(self, method: str, request: Any) -> Any:
        rpc = getattr(self._stub, method)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                wait=_wait,
                stop=stop_after_delay(self.retry_seconds),
                reraise=True,
            ):
                with attempt:
                    try:
                        return await rpc(request, timeout=self.timeout)
                    except grpc.RpcError as e:
                        err = translate(e, self.target)
                        if _retryable(err):
                            _log.debug("client.retry", method=method, error=err.message)
                        raise err from e
        except (UnavailableError, ResourceExhaustedError):
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def apply(
        self, objects: list[dict[str, Any]], *, dry_run: bool = False
    ) -> list[tuple[dict[str, Any], str]]:
        """Create or update each object, all or nothing. Returns (stored object, outcome)."""
        resp = await self._call(
            "Apply", pb.ApplyRequest(objects=[_dump(o) for o in objects], dry_run=dry_run)
        )
        return [(_load(r.object), r.outcome) for r in resp.results]

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return _load((await self._call("Create", pb.CreateRequest(object=_dump(obj)))).object)

    async def update(self, obj: dict[str, Any], *, status_only: bool = False) -> dict[str, Any]:
        """Replace obj; compare-and-swap on metadata.resourceVersion when it is set."""
        req = pb.UpdateRequest(object=_dump(obj), status_only=status_only)
        return _load((await self._call("Update", req)).object)

    async def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update(obj, status_only=True)

    async def access_review(
        self, verb: str, kind: str, *, namespace: str = "", name: str = "", subresource: str = "",
        all_namespaces: bool = False,
    ) -> AccessReview:
        """May the caller ``verb`` ``kind`` (in ``namespace``)? The server answers for
        whoever this client's credentials make it."""
        resp = await self._call("AccessReview", pb.AccessReviewRequest(
            verb=verb, kind=kind, namespace=namespace, name=name, subresource=subresource,
            all_namespaces=all_namespaces,
        ))
        return AccessReview(resp.allowed, resp.reason, resp.user, tuple(resp.groups))

    async def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        ref = pb.ObjectRef(kind=kind, namespace=namespace, name=name)
        return _load((await self._call("Get", pb.GetRequest(ref=ref))).object)

    async def list(
        self,
        kind: str,
        *,
        namespace: str = "",
        all_namespaces: bool = False,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[dict[str, Any]], int]:
        req = pb.ListRequest(
            kind=kind,
            namespace=namespace,
            all_namespaces=all_namespaces,
            label_selector=label_selector,
            field_selector=field_selector,
        )
        resp = await self._call("List", req)
        return [_load(i) for i in resp.items], resp.revision

    async def delete(
        self,
        kind: str,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str = "",
        grace_period_seconds: int = -1,
        precondition_resource_version: str = "",
    ) -> dict[str, Any]:
        req = pb.DeleteRequest(
            ref=pb.ObjectRef(kind=kind, namespace=namespace, name=name),
            propagation_policy=propagation_policy,
            grace_period_seconds=grace_period_seconds,
            precondition_resource_version=precondition_resource_version,
        )
        return _load((await self._call("Delete", req)).object)

    async def watch(
        self,
        kind: str,
        *,
        namespace: str = "",
        all_namespaces: bool = False,
        label_selector: str = "",
        field_selector: str = "",
        from_revision: int = 0,
    ) -> AsyncIterator[WatchEvent]:
        """Stream of changes. No deadline (a watch lives long); raises GoneError when
        from_revision was compacted and UnavailableError when the stream breaks: callers
        re-list and watch again."""
        req = pb.WatchRequest(
            kind=kind,
            namespace=namespace,
            all_namespaces=all_namespaces,
            label_selector=label_selector,
            field_selector=field_selector,
            from_revision=from_revision,
        )
        call = self._stub.Watch(req)
        try:
            async for ev in call:
                yield WatchEvent(ev.type, _load(ev.object), ev.revision)
        except grpc.RpcError as e:
            raise translate(e, self.target) from e
        finally:
            call.cancel()

    async def logs(
        self,
        namespace: str,
        pod: str,
        *,
        container: str = "",
        follow: bool = False,
        tail_lines: int = -1,
    ) -> AsyncIterator[bytes]:
        req = pb.LogsRequest(
            namespace=namespace,
            pod=pod,
            container=container,
            follow=follow,
            tail_lines=tail_lines,
        )
        call = self._stub.Logs(req, timeout=None if follow else self.timeout * 6)
        try:
            async for chunk in call:
                yield chunk.data
        except grpc.RpcError as e:
            raise translate(e, self.target) from e
        finally:
            call.cancel()

    async def exec(
        self,
        namespace: str,
        pod: str,
        command: Sequence[str],
        *,
        container: str = "",
        inputs: AsyncIterator[ExecInput] | None = None,
        tty: bool = False,
        size: tuple[int, int] | None = None,
    ) -> AsyncIterator[ExecOutput]:
        """Run ``command`` in a container of ``pod``: stdin from ``inputs`` (None: no
        stdin), output as it comes, the exit code last. No deadline (a shell lives long);
        keepalive pings notice a lost connection."""
        width, height = size or (0, 0)
        start = pb.ExecStart(
            namespace=namespace, pod=pod, container=container, command=list(command),
            stdin=inputs is not None, tty=tty, size=pb.TerminalSize(width=width, height=height),
        )

        async def requests() -> AsyncIterator[pb.ExecInput]:
            yield pb.ExecInput(start=start)
            if inputs is not None:
                async for msg in inputs:
                    yield _exec_message(msg)

        call = self._stub.Exec(requests())
        try:
            async for out in call:
                which = out.WhichOneof("output")
                if which == "stdout":
                    yield ExecOutput(stdout=out.stdout)
                elif which == "stderr":
                    yield ExecOutput(stderr=out.stderr)
                elif which == "exit_code":
                    yield ExecOutput(exit_code=out.exit_code)
        except grpc.RpcError as e:
            raise translate(e, self.target) from e
        finally:
            call.cancel()


async def join(
    target: str, tls: TLSMaterial, *, token: str, node_name: str, csr: bytes, timeout: float = 10.0
) -> tuple[bytes, bytes]:
    """Join the cluster (``Bootstrap/Join`` on the TLS port without client certificates,
    ``tls.ca`` the CA the discovery hash vouched for): (our certificate, the CA), PEM.
    UnauthenticatedError when the token is refused."""
    async with channel_for(target, tls) as channel:
        try:
            resp = await pb_grpc.BootstrapStub(channel).Join(
                pb.JoinRequest(token=token, node_name=node_name, csr=csr), timeout=timeout
            )
        except grpc.RpcError as e:
            raise translate(e, target) from e
    return resp.certificate, resp.ca


async def renew(target: str, tls: TLSMaterial, *, csr: bytes, timeout: float = 10.0) -> tuple[bytes, bytes]:
    """A new certificate for the node whose current certificate ``tls`` holds (the mutual-TLS
    port): (certificate, CA), PEM."""
    async with channel_for(target, tls) as channel:
        try:
            resp = await pb_grpc.BootstrapStub(channel).Renew(pb.RenewRequest(csr=csr), timeout=timeout)
        except grpc.RpcError as e:
            raise translate(e, target) from e
    return resp.certificate, resp.ca
