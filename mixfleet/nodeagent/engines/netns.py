"""Connections from this host into a container's network namespace (Linux).

A Docker container on a node without a bridge (``--bridge=none``, ``network_mode: none``)
has no address the host can route to, yet the kubelet's probes and hooks must reach it. A
socket belongs to the network namespace it was created in: so a short-lived thread joins
the container's namespace (``setns`` on ``/proc/PID/ns/net``, which moves only the calling
thread), creates the socket, and ends; the socket is then connected from the event loop
like any other. A fresh thread each time, so no pooled worker thread is ever left in a
container's namespace. Needs the privileges the agent already has over the engine (root).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading

from mixfleet.util.aio import within

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def socket_in(pid: int) -> socket.socket:
    """A new TCP socket in the network namespace of process ``pid``."""
    out: dict[str, object] = {}

    def work() -> None:
        try:
            target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                _setns(target)
                out["sock"] = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                os.close(target)
        except OSError as e:
            out["error"] = e

    t = threading.Thread(target=work, name=f"netns-{pid}", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["sock"]  # type: ignore[return-value]


async def connect_in(pid: int, host: str, port: int, *, timeout: float) -> socket.socket:
    """A connected non-blocking socket to host:port inside pid's network namespace."""
    sock = await asyncio.to_thread(socket_in, pid)
    return await connect(sock, host, port, timeout=timeout)


async def connect(sock: socket.socket, host: str, port: int, *, timeout: float) -> socket.socket:
    sock.setblocking(False)
    try:
        await within(asyncio.get_running_loop().sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_from_host(host: str, port: int, *, timeout: float) -> socket.socket:
    return await connect(socket.socket(socket.AF_INET, socket.SOCK_STREAM), host, port, timeout=timeout)
