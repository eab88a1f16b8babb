"""The NodeAgent gRPC service: streams container logs to the control plane's Logs proxy and
runs its Exec sessions. A thin adapter over ``nodeagent.logs``, ``nodeagent.execserver`` and
the engine; its address is the Node's ``status.daemonEndpoint``."""

from __future__ import annotations

from typing import Any, AsyncIterator, Mapping

import grpc

from mixfleet.nodeagent import execserver
from mixfleet.nodeagent.certmanager import NodeCredentials
from mixfleet.nodeagent.engines.base import Engine, EngineError, ExecRequest, Stream
from mixfleet.nodeagent.logs import NoContainerError, find_container
from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED
from mixfleet.pki.certs import CertificateError
from mixfleet.pki.identity import from_certificate
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.util import log

_log = log.get("nodeagent.server")

# An exec session may be quiet for a long time: pings find a peer that is gone (a control
# plane that died) instead of holding its container command open forever. The control
# plane pings every 30 s (controlplane/agents.py); this allows it.
SERVER_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.max_ping_strikes", 0),
    # A port another agent holds is an error, not shared: gRPC's default SO_REUSEPORT let
    # two agents listen on one port, the kernel splitting connections between them.
    ("grpc.so_reuseport", 0),
)


async def _only_admins(context: Any) -> None:
    """Over TLS, only a cluster-admin certificate (the control plane's, O system:masters)
    may call the agent; the kubelet likewise serves only the API server and admins."""
    pems = list((context.auth_context() or {}).get("x509_pem_cert") or ())
    if not pems:
        return  # a plaintext agent (mixfleet dev): loopback only
    try:
        caller = from_certificate(bytes(pems[0]))
    except CertificateError as e:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"unreadable client certificate: {e}")
    if not caller.is_admin:
        _log.info("agent_server.refused", caller=caller.username)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                            f"{caller} may not call this node agent: only the control plane may")


class NodeAgentServicer(pb_grpc.NodeAgentServicer):
    def __init__(
        self,
        engine: Engine,
        *,
        labels: Mapping[str, str] = MANAGED,
        exec_idle_timeout: float = execserver.IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.engine = engine
        self.labels = labels  # which containers are this agent's (its node label)
        self.exec_idle_timeout = exec_idle_timeout

    async def Logs(self, request: pb.LogsRequest, context: Any) -> AsyncIterator[pb.LogChunk]:
        await _only_admins(context)
        try:
            c = await find_container(
                self.engine,
                namespace=request.namespace,
                pod=request.pod,
                container=request.container,
                labels=self.labels,
            )
            # proto3 cannot tell 0 from unset: 0 and -1 both mean all lines.
            tail = request.tail_lines if request.tail_lines > 0 else -1
            async for data in self.engine.logs(c.id, follow=request.follow, tail=tail):
                yield pb.LogChunk(data=data)
        except NoContainerError as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except EngineError as e:
            _log.warning("logs.failed", pod=request.pod, error=e.message)
            await context.abort(grpc.StatusCode.UNAVAILABLE, e.message)

    async def Exec(
        self, request_iterator: AsyncIterator[pb.ExecInput], context: Any
    ) -> AsyncIterator[pb.ExecOutput]:
        await _only_admins(context)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("input") != "start":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message of an exec must be its start")
            return
        start = first.start
        if not start.command:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "you must specify at least one command for the container")
        target = execserver.Target(start.namespace or "default", start.pod, start.container)
        request = ExecRequest(
            tuple(start.command), stdin=start.stdin, tty=start.tty,
            width=start.size.width, height=start.size.height,
        )
        try:
            session = await execserver.open_session(self.engine, target, request, labels=self.labels)
        except execserver.ExecRefused as e:
            code = grpc.StatusCode.NOT_FOUND if e.not_found else grpc.StatusCode.FAILED_PRECONDITION
            await context.abort(code, e.message)
            return
        _log.info("exec.started", pod=f"{target.namespace}/{target.pod}", container=target.container, tty=start.tty)
        async for out in execserver.relay(session, _inputs(request_iterator), idle_timeout=self.exec_idle_timeout):
            if out.stream is None:
                _log.info("exec.ended", pod=f"{target.namespace}/{target.pod}", exit_code=out.exit_code)
                yield pb.ExecOutput(exit_code=out.exit_code)
            elif out.stream is Stream.STDERR:
                yield pb.ExecOutput(stderr=out.data)
            else:
                yield pb.ExecOutput(stdout=out.data)


async def _inputs(messages: AsyncIterator[pb.ExecInput]) -> AsyncIterator[execserver.Input]:
    async for msg in messages:
        which = msg.WhichOneof("input")
        if which == "stdin":
            yield execserver.Input(stdin=msg.stdin)
        elif which == "close_stdin":
            yield execserver.Input(close_stdin=True)
        elif which == "resize":
            yield execserver.Input(resize=(msg.resize.width, msg.resize.height))


def _server_credentials(credentials: NodeCredentials) -> grpc.ServerCredentials:
    """The node's certificate as the serving one, picked up anew after each rotation (gRPC
    asks before each handshake), and client certificates required, verified by the CA."""

    def configuration() -> grpc.ServerCertificateConfiguration:
        tls = credentials.current
        assert tls is not None and tls.key is not None and tls.cert is not None
        return grpc.ssl_server_certificate_configuration([(tls.key, tls.cert)], root_certificates=tls.ca)

    served = [credentials.current]

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        if credentials.current is served[0]:
            return None  # unchanged
        served[0] = credentials.current
        return configuration()

    # None from the fetcher means "unchanged" to gRPC; its stubs do not say so.
    return grpc.dynamic_ssl_server_credentials(
        configuration(), fetch, require_client_authentication=True  # type: ignore[arg-type]
    )


async def start_agent_server(
    engine: Engine,
    listen: str = "127.0.0.1:0",
    *,
    node_name: str = "",
    credentials: NodeCredentials | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Serve NodeAgent on ``listen`` (port 0 picks one); returns (server, port). With the
    node's ``credentials`` over mutual TLS, else plaintext (loopback, `mixfleet dev`)."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    labels = {**MANAGED, LABEL_NODE: node_name} if node_name else MANAGED
    pb_grpc.add_NodeAgentServicer_to_server(NodeAgentServicer(engine, labels=labels), server)
    if credentials is not None and credentials.current is not None:
        port = server.add_secure_port(listen, _server_credentials(credentials))
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    _log.info("agent_server.started", listen=listen, port=port)
    return server, port
