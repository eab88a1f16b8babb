"""The network checks against real servers on 127.0.0.1: what an HTTP probe sends (the
kubelet's User-Agent and Accept, the probe's headers, a Host override), which answers pass,
redirects, timeouts; the gRPC health check against grpcio's own health service."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from typing import Any, Iterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mixfleet.nodeagent.engines import netns
from mixfleet.nodeagent.engines.netprobe import (
    USER_AGENT,
    GRPCAction,
    HTTPGetAction,
    TCPSocketAction,
    grpc_health,
    http_get,
    tcp_socket,
)


async def dial(host: str, port: int, timeout: float) -> socket.socket:
    return await netns.connect_from_host(host or "127.0.0.1", port, timeout=timeout)


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Handler.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        routes = {"/ok": (200, {}), "/bad": (500, {}), "/moved": (302, {"Location": "/ok"}),
                  "/away": (301, {"Location": "http://example.invalid/"}), "/loop": (302, {"Location": "/loop"})}
        if self.path == "/slow":
            threading.Event().wait(3)
        code, headers = routes.get(self.path, (404, {}))
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(b"x" * 100)
        except BrokenPipeError:
            pass  # the probe gave up (the timeout test)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.parametrize(
    "path, ok, message",
    [
        pytest.param("/ok", True, "x" * 100, id="200-passes"),
        pytest.param("/bad", False, "HTTP probe failed with statuscode: 500", id="500-fails"),
        pytest.param("/nope", False, "HTTP probe failed with statuscode: 404", id="404-fails"),
        pytest.param("/moved", True, "x" * 100, id="same-host-redirect-followed"),
        pytest.param("/away", True, "Probe terminated redirects, Response: 301", id="other-host-redirect-kept"),
        pytest.param("/loop", False, None, id="redirect-loop-fails"),
    ],
)
async def test_http_answers(web: int, path: str, ok: bool, message: str | None) -> None:
    """Success is 200 <= status < 400, in the kubelet's words otherwise."""
    result = await http_get(HTTPGetAction(web, path, "127.0.0.1"), dial, timeout=2)
    assert result.ok is ok
    if message is not None:
        assert result.message == message
    else:
        assert "stopped after 10 redirects" in result.message


async def test_http_sends_kubelet_headers_and_the_probes_own(web: int) -> None:
    """User-Agent kube-probe, Accept */*, the probe's httpHeaders, and a Host override."""
    _Handler.seen.clear()
    a = HTTPGetAction(web, "/ok", "127.0.0.1", headers=(("X-Check", "1"), ("Host", "app.example")))
    assert (await http_get(a, dial, timeout=2)).ok
    [seen] = _Handler.seen
    assert (seen["user-agent"], seen["accept"], seen["x-check"], seen["host"]) == (
        USER_AGENT, "*/*", "1", "app.example")


async def test_http_timeout_and_refused(web: int) -> None:
    """A server slower than timeoutSeconds, or none at all, fails the probe."""
    slow = await http_get(HTTPGetAction(web, "/slow", "127.0.0.1"), dial, timeout=0.5)
    assert not slow.ok and "deadline exceeded" in slow.message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    refused = await http_get(HTTPGetAction(free, "/", "127.0.0.1"), dial, timeout=1)
    assert refused == refused.__class__(False, f'Get "http://127.0.0.1:{free}/": connect: connection refused')
    tcp = await tcp_socket(TCPSocketAction(free, "127.0.0.1"), dial, timeout=1)
    assert not tcp.ok and tcp.message == f"dial tcp 127.0.0.1:{free}: connect: connection refused"
    assert (await tcp_socket(TCPSocketAction(web, "127.0.0.1"), dial, timeout=1)).ok


async def test_grpc_health_check() -> None:
    """SERVING passes; NOT_SERVING and an unknown service fail with gRPC's words."""
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        set_status = servicer.set
        res = set_status("db", health_pb2.HealthCheckResponse.SERVING)
        if asyncio.iscoroutine(res):
            await res
        assert (await grpc_health(GRPCAction(port, "db"), dial, timeout=2)).ok
        res = set_status("db", health_pb2.HealthCheckResponse.NOT_SERVING)
        if asyncio.iscoroutine(res):
            await res
        down = await grpc_health(GRPCAction(port, "db"), dial, timeout=2)
        assert down.message == 'service unhealthy (responded with "NOT_SERVING")'
        unknown = await grpc_health(GRPCAction(port, "other"), dial, timeout=2)
        assert not unknown.ok and "NOT_FOUND" in unknown.message
    finally:
        await server.stop(0)


@pytest.fixture(scope="module")
def tls_web(web: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The same server over TLS with a self-signed certificate no one trusts."""
    import ssl

    from mixfleet.pki.certs import make_ca

    issued = make_ca("probe-test")
    d = tmp_path_factory.mktemp("tls")
    (d / "c.pem").write_bytes(issued.cert_pem)
    (d / "k.pem").write_bytes(issued.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "c.pem", d / "k.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


async def test_https_without_certificate_checks(tls_web: int) -> None:
    """scheme HTTPS: the kubelet does not check the certificate, and neither do we."""
    assert (await http_get(HTTPGetAction(tls_web, "/ok", "127.0.0.1", "HTTPS"), dial, timeout=2)).ok
    bad = await http_get(HTTPGetAction(tls_web, "/bad", "127.0.0.1", "HTTPS"), dial, timeout=2)
    assert bad.message == "HTTP probe failed with statuscode: 500"
