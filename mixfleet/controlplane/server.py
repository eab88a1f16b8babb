"""gRPC adapter: the ControlPlane service over Registry, with health and reflection.

The servicer only decodes requests, calls Registry, and maps errors to status codes, all in
``_errors`` below: the one place that knows both the registry's errors and gRPC's codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Awaitable, Sequence, TypeVar

import grpc
from grpc_health.v1 import _async as health_aio  # health.aio, which the stubs lack
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mixfleet.api import kinds, rbac, strictjson, validation
from mixfleet.api.errors import FieldError, InvalidObjectError
from mixfleet.client.client import MAX_OBJECTS_TRAILER
from mixfleet.controlplane import agents, execproxy
from mixfleet.controlplane import registry as reg
from mixfleet.controlplane.access import ForbiddenError
from mixfleet.controlplane.access.guard import Access, Write
from mixfleet.controlplane.authn import AuthenticationInterceptor, Authenticator
from mixfleet.controlplane.fairness import GRPC_SERVER_OPTIONS, ClientLimits, FairnessInterceptor, FairnessLimits
from mixfleet.controlplane.registry import Registry
from mixfleet.controlplane.sharedjson import SharedJSON
from mixfleet.controlplane.watch import watch
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.store import base as store_errors
from mixfleet.util import log
from mixfleet.util.aio import within

_log = log.get("server")
_T = TypeVar("_T")

_CODES: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (ForbiddenError, grpc.StatusCode.PERMISSION_DENIED),
    (InvalidObjectError, grpc.StatusCode.INVALID_ARGUMENT),
    (kinds.UnknownKindError, grpc.StatusCode.NOT_FOUND),
    (reg.ObjectNotFoundError, grpc.StatusCode.NOT_FOUND),
    (reg.NamespaceNotFoundError, grpc.StatusCode.NOT_FOUND),
    (reg.ObjectExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (reg.StaleObjectError, grpc.StatusCode.ABORTED),
    (reg.TooManyObjectsError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (reg.OutcomeUnknownError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (store_errors.ConflictError, grpc.StatusCode.ABORTED),
    (store_errors.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (store_errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (store_errors.CompactedError, grpc.StatusCode.OUT_OF_RANGE),
    (store_errors.UnavailableError, grpc.StatusCode.UNAVAILABLE),
    # The store's disk is full (reads and deletes still work) / its file is damaged.
    (store_errors.StoreFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (store_errors.StoreCorruptError, grpc.StatusCode.DATA_LOSS),
    # Proxied to a node agent (logs, exec): its refusals keep their codes (an agent out of
    # reach is FAILED_PRECONDITION, in its own words: UNAVAILABLE would read as "cannot
    # reach the control plane").
    (execproxy.ExecNotFoundError, grpc.StatusCode.NOT_FOUND),
    (execproxy.ExecInvalidError, grpc.StatusCode.INVALID_ARGUMENT),
    (reg.RegistryError, grpc.StatusCode.FAILED_PRECONDITION),
)


def _code_for(err: BaseException) -> grpc.StatusCode | None:
    if isinstance(err, agents.AgentCallError):
        return getattr(grpc.StatusCode, err.code, grpc.StatusCode.FAILED_PRECONDITION)
    for cls, code in _CODES:
        if isinstance(err, cls):
            return code
    return None


@contextlib.asynccontextmanager
async def _errors(context: grpc.aio.ServicerContext, method: str) -> AsyncIterator[None]:
    try:
        yield
    except (grpc.aio.AbortError, GeneratorExit):
        raise
    except Exception as e:  # one translation point for every RPC
        code = _code_for(e)
        if code is None:
            _log.exception("rpc.internal_error", method=method)
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error: {e}")
        if code is grpc.StatusCode.INVALID_ARGUMENT:
            message = "invalid object:\n" + str(e)
        elif code is grpc.StatusCode.OUT_OF_RANGE:
            message = f"too old resource version: {e}"
        elif code is grpc.StatusCode.UNAVAILABLE:
            message = f"store unavailable: {e}"
        else:
            message = str(e)
        # A missing object is an ordinary answer (agents probe for their Lease), not news.
        level = _log.debug if code is grpc.StatusCode.NOT_FOUND else _log.info
        level("rpc.failed", method=method, code=code.name, error=message)
        await context.abort(code, message, trailing_metadata=_trailers(e))


def code_name(err: BaseException) -> str:
    """The gRPC code an error is answered with (for the audit log)."""
    if isinstance(err, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED.name
    return (_code_for(err) or grpc.StatusCode.INTERNAL).name


def _trailers(err: BaseException) -> tuple[tuple[str, str], ...]:
    # The per-request limit travels as data too, so mixctl splits an apply by it without
    # parsing the message.
    if isinstance(err, reg.TooManyObjectsError):
        return ((MAX_OBJECTS_TRAILER, str(err.limit)),)
    return ()


_MAX_REQUEST_SECONDS = 30.0


async def _bounded(
    context: grpc.aio.ServicerContext, aw: Awaitable[_T], *, verb: str = "request"
) -> _T:
    """Answer before the client's deadline even when the store hangs, and say truthfully
    what happened: UNAVAILABLE when no commit had begun (nothing was written, as the
    cancelled request never starts one), DEADLINE_EXCEEDED "outcome unknown" when one was
    under way. That commit is shielded and finishes on its own; its result is logged."""
    remaining = context.time_remaining()
    limit = max(_MAX_REQUEST_SECONDS if remaining is None else min(_MAX_REQUEST_SECONDS, remaining - 0.5), 0.1)
    with reg.tracked_commits() as commits:
        try:
            return await within(aw, limit)
        except asyncio.TimeoutError as e:
            if not any(_may_have_written(c) for c in commits):
                raise store_errors.UnavailableError(f"no answer within {limit:.1f}s") from e
            for c in commits:
                c.add_done_callback(functools.partial(_log_late_commit, verb))
            raise reg.OutcomeUnknownError(limit, verb=verb) from e


def _may_have_written(commit: "asyncio.Future[int]") -> bool:
    return not commit.done() or (not commit.cancelled() and commit.exception() is None)


def _log_late_commit(verb: str, commit: "asyncio.Future[int]") -> None:
    """What became of a commit whose request was answered "outcome unknown"."""
    if commit.cancelled():
        _log.warning("rpc.late_commit", verb=verb, outcome="cancelled")
    elif commit.exception() is not None:
        _log.warning("rpc.late_commit", verb=verb, outcome="failed", error=str(commit.exception()))
    else:
        _log.info("rpc.late_commit", verb=verb, outcome="committed", revision=commit.result())


def _load(data: bytes, *, document: int | None = None) -> dict[str, Any]:
    """One request body: JSON whose envelope (api.validation.validate_envelope) holds, so
    nothing after this reads a field of the wrong type. InvalidObjectError names the field."""
    try:
        obj = strictjson.loads(data)
    except strictjson.DuplicateKeyError as e:
        raise InvalidObjectError([FieldError("", str(e), document=document)]) from None
    except RecursionError:
        # The C decoder gives up on deep nesting (10,000 "[") with RecursionError.
        raise InvalidObjectError([FieldError(
            "", f"nested too deeply: at most {validation.MAX_NESTING_DEPTH} levels", document=document
        )]) from None
    except ValueError as e:  # also UnicodeDecodeError
        raise InvalidObjectError([FieldError("", f"not valid JSON: {e}", document=document)]) from e
    errors = validation.validate_envelope(obj)
    if errors:
        raise InvalidObjectError([replace(err, document=document, object=_label(obj)) for err in errors])
    return obj


def _load_all(data: Sequence[bytes]) -> list[dict[str, Any]]:
    """Every body of an Apply, reporting the problems of all of them at once."""
    objs: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    for i, d in enumerate(data, start=1):
        try:
            objs.append(_load(d, document=i))
        except InvalidObjectError as e:
            errors.extend(e.errors)
    if errors:
        raise InvalidObjectError(errors)
    return objs


def _label(obj: Any) -> str:
    """``Kind/name`` for messages, when the body has them as strings."""
    if not isinstance(obj, dict):
        return ""
    kind, meta = obj.get("kind"), obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(kind, str) and kind and isinstance(name, str) and name:
        return f"{kind}/{name}"
    return ""


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class ControlPlaneServicer(pb_grpc.ControlPlaneServicer):
    def __init__(
        self, registry: Registry, logs: Any = None, watches: WatchCache | None = None,
        access: Access | None = None,
    ) -> None:
        self.registry = registry
        # Every RPC asks here first (by default as on a plaintext loopback server).
        self._access = access or Access(registry, watches, insecure=True, code_for=code_name)
        self._logs = logs  # controlplane.logs.LogProxy
        self._exec = execproxy.ExecProxy(registry, tls=getattr(logs, "tls", None))
        self._watches = watches
        self._watch_json = SharedJSON()  # one encoding per change, whatever the watchers

    async def Apply(self, request: pb.ApplyRequest, context: Any) -> pb.ApplyResponse:
        async with _errors(context, "Apply"):
            if len(request.objects) > self.registry.max_objects_per_apply:  # before decoding any
                raise reg.TooManyObjectsError(len(request.objects), self.registry.max_objects_per_apply)
            objs = _load_all(request.objects)
            async with self._access.writing(context, [Write.of("apply", o) for o in objs]):
                results = await _bounded(
                    context, self.registry.apply(objs, dry_run=request.dry_run), verb="apply"
                )
            return pb.ApplyResponse(
                results=[pb.ApplyResult(object=_dump(r.object), outcome=r.outcome) for r in results]
            )

    async def Create(self, request: pb.CreateRequest, context: Any) -> pb.ObjectResponse:
        async with _errors(context, "Create"):
            new = _load(request.object)
            async with self._access.writing(context, [Write.of("create", new)]):
                obj = await _bounded(context, self.registry.create(new), verb="create")
            return pb.ObjectResponse(object=_dump(obj))

    async def Update(self, request: pb.UpdateRequest, context: Any) -> pb.ObjectResponse:
        async with _errors(context, "Update"):
            new = _load(request.object)
            async with self._access.writing(context, [Write.of("update", new, status_only=request.status_only)]):
                obj = await _bounded(
                    context, self.registry.update(new, status_only=request.status_only), verb="update"
                )
            return pb.ObjectResponse(object=_dump(obj))

    async def Get(self, request: pb.GetRequest, context: Any) -> pb.ObjectResponse:
        async with _errors(context, "Get"):
            r = request.ref
            await self._access.read("get", r.kind, namespace=r.namespace, name=r.name)
            obj = await _bounded(context, self.registry.get(r.kind, r.name, r.namespace))
            return pb.ObjectResponse(object=_dump(obj))

    async def List(self, request: pb.ListRequest, context: Any) -> pb.ListResponse:
        async with _errors(context, "List"):
            await self._access.read(
                "list", request.kind, namespace=request.namespace,
                all_namespaces=request.all_namespaces, field_selector=request.field_selector,
            )
            items, rev = await _bounded(context, self.registry.list(
                request.kind,
                namespace=request.namespace,
                all_namespaces=request.all_namespaces,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
            ))
            return pb.ListResponse(items=[_dump(i) for i in items], revision=rev)

    async def Delete(self, request: pb.DeleteRequest, context: Any) -> pb.ObjectResponse:
        async with _errors(context, "Delete"):
            r = request.ref
            async with self._access.writing(context, [Write("delete", r.kind, r.namespace, r.name)]):
                obj = await _bounded(context, self.registry.delete(
                    r.kind,
                    r.name,
                    r.namespace,
                    propagation_policy=request.propagation_policy,
                    grace_period_seconds=request.grace_period_seconds,
                    precondition_resource_version=request.precondition_resource_version,
                ), verb="delete")
            return pb.ObjectResponse(object=_dump(obj))

    async def Watch(self, request: pb.WatchRequest, context: Any) -> AsyncIterator[pb.WatchEvent]:
        async with _errors(context, "Watch"):
            await self._access.read(
                "watch", request.kind, namespace=request.namespace,
                all_namespaces=request.all_namespaces, field_selector=request.field_selector,
            )
            source = (
                self._watches.watch
                if self._watches is not None
                else functools.partial(watch, self.registry)
            )
            async for ev in source(
                request.kind,
                namespace=request.namespace,
                all_namespaces=request.all_namespaces,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                from_revision=request.from_revision,
            ):
                yield pb.WatchEvent(type=ev.type, object=self._watch_json.dump(ev.object), revision=ev.revision)

    async def Logs(self, request: pb.LogsRequest, context: Any) -> AsyncIterator[pb.LogChunk]:
        async with _errors(context, "Logs"):
            await self._access.read("get", "Pod", namespace=request.namespace, name=request.pod, subresource="log")
            if self._logs is None:
                raise reg.RegistryError("logs are not available on this control plane")
            async for data in self._logs.stream(request):
                yield pb.LogChunk(data=data)

    async def Exec(self, request_iterator: AsyncIterator[pb.ExecInput], context: Any) -> AsyncIterator[pb.ExecOutput]:
        async def authorize(namespace: str, pod: str) -> object:
            # RBAC's create pods/exec, as the API server asks: view may not, edit/admin may.
            return await self._access.read("create", "Pod", namespace=namespace, name=pod, subresource="exec")

        async with _errors(context, "Exec"):
            async for out in self._exec.stream(request_iterator, authorize):
                yield out

    async def AccessReview(self, request: pb.AccessReviewRequest, context: Any) -> pb.AccessReviewResponse:
        async with _errors(context, "AccessReview"):
            if request.verb not in rbac.VERBS:
                raise InvalidObjectError([FieldError(
                    "verb", f"unsupported value {request.verb!r}: supported values: {', '.join(rbac.VERBS)}")])
            k = kinds.lookup(request.kind)
            ns = "" if request.all_namespaces or not k.namespaced else (request.namespace or "default")
            a = rbac.attributes(request.verb, k, namespace=ns, name=request.name,
                                subresource=request.subresource)
            identity, why = await self._access.review(a)
            return pb.AccessReviewResponse(
                allowed=why is None, reason=why or "", user=identity.username, groups=sorted(identity.groups)
            )


@dataclass(frozen=True)
class ServerTLS:
    """The control plane's TLS: ``chain`` (serving certificate, then the CA) and its
    ``key``; ``ca`` verifies client certificates on the mutual-TLS port; ``token_listen``
    is the TLS port without client certificates (joins, bearer tokens)."""

    chain: bytes
    key: bytes
    ca: bytes
    token_listen: str


def _add_ports(server: grpc.aio.Server, listen: str, tls: ServerTLS | None) -> tuple[int, int]:
    """Bind the mutual-TLS port and the TLS-only port (or one plaintext port)."""
    if tls is None:
        ports = (server.add_insecure_port(listen), 0)
    else:
        pair = [(tls.key, tls.chain)]
        # gRPC's Python server either requires client certificates or never asks for them,
        # so the callers without one (joining nodes, token users) get a port of their own.
        mutual = grpc.ssl_server_credentials(pair, root_certificates=tls.ca, require_client_auth=True)
        ports = (
            server.add_secure_port(listen, mutual),
            server.add_secure_port(tls.token_listen, grpc.ssl_server_credentials(pair)),
        )
    for address, port in zip((listen, tls.token_listen if tls else ""), ports):
        if address and port == 0:
            raise OSError(f"cannot listen on {address}")
    return ports


def token_address(listen: str) -> str:
    """The default --token-listen: the port after --listen's (port 0 stays 0)."""
    host, _, port = listen.rpartition(":")
    return f"{host}:{int(port) + 1 if port.isdigit() and int(port) else 0}"


async def start_server(
    registry: Registry,
    listen: str,
    *,
    logs: Any = None,
    watches: WatchCache | None = None,
    limits: ClientLimits | None = None,
    tls: ServerTLS | None = None,
    authenticator: Authenticator | None = None,
    bootstrap: pb_grpc.BootstrapServicer | None = None,
    access: Access | None = None,
) -> tuple[grpc.aio.Server, int, health_aio.HealthServicer, int]:
    """Start serving on ``listen`` (``127.0.0.1:0`` picks a port); returns (server, port,
    health servicer, the TLS-only port or 0). ``limits``: the per-client limits
    (controlplane/fairness.py) applied to the ControlPlane service; by default
    FairnessLimits()'s. Without ``tls`` the server is plaintext, and every caller counts
    as trusted (``authn``): callers make sure it listens on loopback only."""
    service_name = pb.DESCRIPTOR.services_by_name["ControlPlane"].full_name
    authenticator = authenticator or Authenticator(insecure=tls is None)
    server = grpc.aio.server(
        interceptors=[
            AuthenticationInterceptor(authenticator),
            FairnessInterceptor(limits or ClientLimits(FairnessLimits()), service=service_name),
        ],
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            # Clients ping every 30 s on quiet streams (a shell of mixctl exec, a watch):
            # allowed, or gRPC would answer the third ping with GOAWAY "too many pings".
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.max_ping_strikes", 0),
            *GRPC_SERVER_OPTIONS,
        ],
    )
    pb_grpc.add_ControlPlaneServicer_to_server(
        ControlPlaneServicer(registry, logs, watches, access), server
    )
    if bootstrap is not None:
        pb_grpc.add_BootstrapServicer_to_server(bootstrap, server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_names = (
        service_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(service_names, server)
    port, token_port = _add_ports(server, listen, tls)
    await server.start()
    for name in ("", service_names[0]):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _log.info("server.started", listen=listen, port=port, tls=tls is not None, token_port=token_port)
    return server, port, health_servicer, token_port
