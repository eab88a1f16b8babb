"""Authentication: who is calling, from the connection. The one seam authorization builds on.

    identity = await authenticator.identify(context)   # any servicer context
    identity = current_identity()                      # inside a handler the interceptor wraps

A caller is (``pki.identity``):
- a **node** or **user** by its client certificate, verified by TLS against the cluster CA
  on the mutual-TLS port (``--listen``); a revoked certificate (``mixfleet certs revoke``,
  the revocation list in the store) is refused UNAUTHENTICATED;
- **anonymous** on the TLS port without client certificates (``--token-listen``), which
  exists because gRPC's Python server can require client certificates or not ask for
  them, not ask and accept either: joining nodes (``Bootstrap/Join``, which checks its own
  token) and, later, bearer-token users come in there;
- on a plaintext loopback server (``mixfleet dev``, ``controlplane --insecure``) every
  caller is ``INSECURE_ADMIN``: such a server cannot tell callers apart.

The interceptor refuses anonymous callers UNAUTHENTICATED on every method but the few in
``ANONYMOUS_METHODS``, and puts the identity of the call in a context variable.
"""

from __future__ import annotations

import contextvars
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

import grpc

from mixfleet.pki.certs import CertificateError
from mixfleet.pki.identity import ANONYMOUS, INSECURE_ADMIN, Identity, from_certificate
from mixfleet.util import log

_log = log.get("authn")

# Methods anyone may call: joining needs no identity (the join token is checked by the
# method), and probes must work without credentials.
ANONYMOUS_METHODS = frozenset({
    "/mixfleet.v1.Bootstrap/Join",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
})
_ANONYMOUS_PREFIXES = ("/grpc.reflection.",)

_current: contextvars.ContextVar[Identity] = contextvars.ContextVar("mixfleet_identity", default=ANONYMOUS)


class UnauthenticatedError(Exception):
    """The caller's credentials are not acceptable (revoked, unreadable)."""


def current_identity() -> Identity:
    """The identity of the RPC being handled (set by :class:`AuthenticationInterceptor`)."""
    return _current.get()


BearerAuthenticator = Callable[[str], Awaitable[Identity | None]]


class Authenticator:
    """Turns a call's connection into an Identity.

    ``insecure``: the server is plaintext on loopback (every caller INSECURE_ADMIN).
    ``revoked``: a serial number (hex) -> is it revoked (the store's revocation list).
    ``bearer``: looks up a bearer token (``authorization: Bearer ...`` metadata) -> the
    user it belongs to, or None (for the users' tokens, a later piece)."""

    def __init__(
        self,
        *,
        insecure: bool,
        revoked: Callable[[str], bool] = lambda serial: False,
        bearer: BearerAuthenticator | None = None,
    ) -> None:
        self.insecure = insecure
        self.revoked = revoked
        self.bearer = bearer

    async def identify(self, context: grpc.aio.ServicerContext) -> Identity:
        if self.insecure:
            return INSECURE_ADMIN
        auth = context.auth_context() or {}
        pems = list(auth.get("x509_pem_cert") or ())
        if pems:
            try:
                ident = from_certificate(bytes(pems[0]))
            except CertificateError as e:
                raise UnauthenticatedError(f"unreadable client certificate: {e}") from None
            if self.revoked(ident.serial):
                raise UnauthenticatedError(
                    f"client certificate {ident.serial} of {ident} has been revoked"
                )
            return ident
        token = _bearer_token(context.invocation_metadata() or ())
        if token and self.bearer is not None:
            user = await self.bearer(token)
            if user is None:
                raise UnauthenticatedError("the bearer token is not valid")
            return user
        return ANONYMOUS


def _bearer_token(metadata: Iterable[Any]) -> str:
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            return value[len("Bearer "):].strip()
    return ""


def _anonymous_allowed(method: str) -> bool:
    return method in ANONYMOUS_METHODS or method.startswith(_ANONYMOUS_PREFIXES)


_Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
_Stream = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


class AuthenticationInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call before its handler runs (the first interceptor)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if handler is None:
            return handler
        unary_unary: Any = handler.unary_unary
        unary_stream: Any = handler.unary_stream
        if unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        stream_stream: Any = handler.stream_stream
        if stream_stream is not None:  # Exec: the request stream is handed on as it is
            return grpc.stream_stream_rpc_method_handler(
                self._stream(method, stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Nothing else may pass unauthenticated: a kind of RPC added later is refused until
        # it is wrapped here.
        return grpc.unary_unary_rpc_method_handler(self._unsupported(method))

    async def _authenticate(self, method: str, context: grpc.aio.ServicerContext) -> Identity:
        try:
            ident = await self.authenticator.identify(context)
        except UnauthenticatedError as e:
            _log.info("authn.refused", method=method, peer=context.peer(), reason=str(e))
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(e))
            raise AssertionError("unreachable") from None  # abort raises
        if ident.kind == "anonymous" and not _anonymous_allowed(method):
            _log.info("authn.refused", method=method, peer=context.peer(), reason="anonymous")
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{method}: anonymous requests are refused; connect with a client certificate "
                "signed by the cluster CA (mutual-TLS port) or a bearer token",
            )
        return ident

    def _unsupported(self, method: str) -> _Unary:
        async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method}: not served")

        return refuse

    def _unary(self, method: str, behavior: _Unary) -> _Unary:
        async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            reset = _current.set(await self._authenticate(method, context))
            try:
                return await behavior(request, context)
            finally:
                _current.reset(reset)

        return authenticated

    def _stream(self, method: str, behavior: _Stream) -> _Stream:
        async def authenticated(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            ident = await self._authenticate(method, context)
            async for msg in _with_identity(ident, behavior(request, context)):
                yield msg

        return authenticated


async def _with_identity(ident: Identity, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Each step of ``stream`` runs with ``ident`` as the current identity (a generator's
    steps may run in different contexts, so it is set around each one)."""
    iterator = stream.__aiter__()
    while True:
        reset = _current.set(ident)
        try:
            msg = await iterator.__anext__()
        except StopAsyncIteration:
            return
        finally:
            _current.reset(reset)
        yield msg
