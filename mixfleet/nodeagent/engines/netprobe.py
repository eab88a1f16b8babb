"""What a probe or a lifecycle hook asks for, and the network checks the kubelet runs
(pkg/probe/http, tcp, grpc), over a connection the engine opens into the container's
network (``Dial``), so the same checks serve every engine that can reach its containers.

- httpGet: ``GET`` with ``User-Agent: kube-probe/...`` and ``Accept: */*`` (the probe's
  ``httpHeaders`` added or overriding, ``Host`` among them); HTTPS without certificate
  checks, as the kubelet does; redirects on the same host followed (at most 10), one to
  another host taken as its 3xx answer; success is 200 <= status < 400, otherwise
  ``HTTP probe failed with statuscode: 500``. At most 10 KiB of the body is read.
- tcpSocket: success when the connection opens.
- grpc: the ``grpc.health.v1.Health/Check`` call for the probe's ``service``; SERVING is
  success, anything else (or no health service) a failure with gRPC's own words.

The plain HTTP exchange runs in a worker thread (``http.client`` on the dialled socket),
bounded by the probe's timeout like every other step.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Awaitable, Callable, Union

USER_AGENT = "kube-probe/1.31"  # what applications expect to see from a kubelet's probe
STATUS_FAILED = "HTTP probe failed with statuscode:"  # an answer came, but not 2xx/3xx
_MAX_BODY = 10 * 1024
_MAX_REDIRECTS = 10


@dataclass(frozen=True, slots=True)
class ExecAction:
    command: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HTTPGetAction:
    port: int
    path: str = "/"
    host: str = ""  # "" = the pod's own address
    scheme: str = "HTTP"  # HTTP | HTTPS
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TCPSocketAction:
    port: int
    host: str = ""


@dataclass(frozen=True, slots=True)
class GRPCAction:
    port: int
    service: str = ""


@dataclass(frozen=True, slots=True)
class SleepAction:
    """A lifecycle hook that only waits (``lifecycle.preStop.sleep``)."""

    seconds: float


ProbeAction = Union[ExecAction, HTTPGetAction, TCPSocketAction, GRPCAction]
HookAction = Union[ExecAction, HTTPGetAction, SleepAction]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    message: str  # why it failed, in the kubelet's words; "" or the output when it passed


# host ("" = the container's own address), port, timeout -> a connected socket
Dial = Callable[[str, int, float], Awaitable[socket.socket]]


def _url(a: HTTPGetAction, host: str) -> str:
    path = a.path if a.path.startswith("/") else "/" + a.path
    return f"{a.scheme.lower()}://{host or 'localhost'}:{a.port}{path}"


async def http_get(a: HTTPGetAction, dial: Dial, *, timeout: float) -> ProbeResult:
    deadline = time.monotonic() + timeout
    target = a
    for _ in range(_MAX_REDIRECTS + 1):
        url = _url(target, target.host)
        try:
            sock = await dial(target.host, target.port, max(0.001, deadline - time.monotonic()))
        except (OSError, TimeoutError) as e:
            return ProbeResult(False, f'Get "{url}": {_why(e)}')
        try:
            status, location, body = await asyncio.to_thread(
                _exchange, sock, target, max(0.001, deadline - time.monotonic())
            )
        except (OSError, http.client.HTTPException, TimeoutError) as e:
            return ProbeResult(False, f'Get "{url}": {_why(e)}')
        if 300 <= status < 400 and location:
            nxt = _follow(target, location)
            if nxt is None:  # elsewhere: the kubelet stops and takes the 3xx as it is
                return ProbeResult(True, f"Probe terminated redirects, Response: {status}")
            target = nxt
            continue
        if 200 <= status < 400:
            return ProbeResult(True, body)
        return ProbeResult(False, f"{STATUS_FAILED} {status}")
    return ProbeResult(False, f'Get "{_url(target, target.host)}": stopped after {_MAX_REDIRECTS} redirects')


def _follow(a: HTTPGetAction, location: str) -> HTTPGetAction | None:
    """The same probe aimed at ``location`` when that is on the same host and port."""
    here = urllib.parse.urlsplit(_url(a, a.host))
    there = urllib.parse.urlsplit(urllib.parse.urljoin(here.geturl(), location))
    if (there.scheme, there.hostname, there.port or here.port) != (here.scheme, here.hostname, here.port):
        return None
    path = there.path or "/"
    return HTTPGetAction(a.port, path + (f"?{there.query}" if there.query else ""), a.host,
                         a.scheme, a.headers)


def _exchange(sock: socket.socket, a: HTTPGetAction, timeout: float) -> tuple[int, str, str]:
    """One GET on a connected socket (blocking; run in a thread)."""
    sock.setblocking(True)
    sock.settimeout(timeout)
    host = a.host or "localhost"
    conn: http.client.HTTPConnection
    try:
        if a.scheme.upper() == "HTTPS":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the kubelet's InsecureSkipVerify
            conn = http.client.HTTPSConnection(host, a.port, timeout=timeout, context=ctx)
            conn.sock = ctx.wrap_socket(sock, server_hostname=host)
        else:
            conn = http.client.HTTPConnection(host, a.port, timeout=timeout)
            conn.sock = sock
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
        for name, value in a.headers:
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        conn.request("GET", a.path if a.path.startswith("/") else "/" + a.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read(_MAX_BODY).decode("utf-8", "replace")
        return resp.status, resp.getheader("Location") or "", body
    finally:
        sock.close()


async def tcp_socket(a: TCPSocketAction, dial: Dial, *, timeout: float) -> ProbeResult:
    try:
        sock = await dial(a.host, a.port, timeout)
    except (OSError, TimeoutError) as e:
        return ProbeResult(False, f"dial tcp {a.host or 'localhost'}:{a.port}: {_why(e)}")
    sock.close()
    return ProbeResult(True, "")


async def grpc_health(a: GRPCAction, dial: Dial, *, timeout: float) -> ProbeResult:
    """The health check over a one-connection relay from loopback to the dialled socket:
    gRPC dials its own connections, and the container's network may be reachable only
    through the socket the engine opened."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    try:
        upstream = await dial("", a.port, timeout)
    except (OSError, TimeoutError) as e:
        return ProbeResult(False, f'timeout: failed to connect service ":{a.port}" within {timeout:g}s: {_why(e)}')
    relay = await _Relay.start(upstream)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{relay.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = await stub.Check(
                health_pb2.HealthCheckRequest(service=a.service),
                timeout=max(0.001, deadline - time.monotonic()),
            )
    except grpc.aio.AioRpcError as e:
        if e.code() is grpc.StatusCode.UNIMPLEMENTED:
            return ProbeResult(False, "this server does not implement the grpc health protocol "
                                      f"(grpc.health.v1.Health): {e.details()}")
        if e.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
            return ProbeResult(False, f"timeout: health rpc did not complete within {timeout:g}s")
        return ProbeResult(False, f"error: health rpc probe failed: {e.code().name}: {e.details()}")
    finally:
        await relay.close()
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    if status != "SERVING":
        return ProbeResult(False, f'service unhealthy (responded with "{status}")')
    return ProbeResult(True, "")


class _Relay:
    """Accepts one connection on 127.0.0.1 and pipes it to ``upstream``."""

    def __init__(self, upstream: socket.socket) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._used = False
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, upstream: socket.socket) -> "_Relay":
        r = cls(upstream)
        r._server = await asyncio.start_server(r._accept, "127.0.0.1", 0)
        r.port = r._server.sockets[0].getsockname()[1]
        return r

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._used:
            writer.close()
            return
        self._used = True
        up_reader, up_writer = await asyncio.open_connection(sock=self.upstream)
        self._tasks = [asyncio.create_task(_pipe(reader, up_writer)),
                       asyncio.create_task(_pipe(up_reader, writer))]
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._server is not None:
            self._server.close()
        if not self._used:
            self.upstream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def _why(e: BaseException) -> str:
    if isinstance(e, TimeoutError) or isinstance(e, socket.timeout):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    if isinstance(e, ConnectionRefusedError):
        return "connect: connection refused"
    return str(e) or type(e).__name__
