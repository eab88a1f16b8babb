"""The blocking halves of the Docker adapter's two streaming calls, each run in a thread:
an exec (a readiness probe) read from its hijacked socket under a deadline, and the
``/events`` stream pumped into the event loop. The SDK's own readers wait on the socket
without a timeout, so a probe that hangs would pin a worker thread for as long as it runs."""

from __future__ import annotations

import socket
import time
from typing import Any, Callable, Iterable, Sequence

from mixfleet.nodeagent.engines.base import ExecResult, ExecTimeout
from mixfleet.nodeagent.engines.docker_exec import Demuxer
from mixfleet.util import log

_log = log.get("nodeagent.engine")
_MAX_OUTPUT = 10_240  # probe output is for messages only: keep the tail of it
# Container events that may change what the agent should do or report.
WAKE_EVENTS = ("start", "die", "oom", "destroy")


def demux(data: bytes) -> bytes:
    """Payloads of Docker's multiplexed (non-tty) stream, stdout and stderr interleaved."""
    return b"".join(payload for _, payload in Demuxer().feed(data))


def run_exec(api: Any, container_id: str, command: Sequence[str], *, timeout: float) -> ExecResult:
    """exec_create + exec_start on a raw socket read with the time left before the deadline,
    then the exit code from exec_inspect. Raises ExecTimeout; SDK errors pass through."""
    deadline = time.monotonic() + timeout
    exec_id = api.exec_create(container_id, list(command), stdout=True, stderr=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw = getattr(sock, "_sock", sock)  # SocketIO wraps the socket on unix and tcp
    chunks: list[bytes] = []
    try:
        while chunk := _recv(raw, deadline, command):
            chunks.append(chunk)
    finally:
        for s in (sock, raw):
            try:
                s.close()
            except OSError:
                pass
    output = demux(b"".join(chunks))[-_MAX_OUTPUT:].decode(errors="replace")
    return ExecResult(_exit_code(api, exec_id, deadline, command), output)


def _recv(raw: Any, deadline: float, command: Sequence[str]) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ExecTimeout(f"command {list(command)} timed out")
    raw.settimeout(remaining)
    try:
        return bytes(raw.recv(65536))
    except (socket.timeout, TimeoutError) as e:
        raise ExecTimeout(f"command {list(command)} timed out") from e


def _exit_code(api: Any, exec_id: str, deadline: float, command: Sequence[str]) -> int:
    # The stream can end a moment before the daemon records the exit code.
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            raise ExecTimeout(f"command {list(command)} timed out")
        time.sleep(0.01)


def pump_events(stream: Iterable[dict], deliver: Callable[[str | None], None]) -> None:
    """Thread body: the id of each container event, then None when the stream ends (closed
    by the reader, or broken)."""
    try:
        for ev in stream:
            cid = ev.get("id") or (ev.get("Actor") or {}).get("ID")
            if cid:
                deliver(str(cid))
    except Exception as e:  # a broken stream is expected: the reader reconnects
        _log.debug("engine.events_ended", error=str(e))
    finally:
        deliver(None)
