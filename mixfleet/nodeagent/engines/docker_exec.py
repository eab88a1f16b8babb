"""``mixctl exec`` on Docker: the exec API (create, start hijacked, resize, inspect), the
command's stdin written to and its output read from the hijacked connection, as the docker
CLI does. Blocking socket calls run in worker threads; ``close`` shuts the socket down, which
ends a read still waiting in one. Without a terminal Docker multiplexes stdout and stderr
into frames (an 8-byte header: stream number, 3 pad bytes, payload size), which a frame may
straddle reads of; with one it sends the terminal's bytes as they come."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any, AsyncIterator

from mixfleet.nodeagent.engines.errors import EngineError
from mixfleet.nodeagent.engines.sessions import ExecRequest, ExecSession, Stream
from mixfleet.util import log

_log = log.get("nodeagent.engine")
_HEADER = struct.Struct(">BxxxL")
_READ_SIZE = 65536
# Docker records the exit code a moment after the output ends.
_EXIT_CODE_SECONDS = 10.0
# A terminal's first resize can come before the process is up (the docker CLI retries too).
_RESIZE_TRIES, _RESIZE_PAUSE = 5, 0.05


class Demuxer:
    """Docker's multiplexed stream, fed as it arrives, into (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[Stream, bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append((Stream.STDERR if kind == 2 else Stream.STDOUT, bytes(self._buf[_HEADER.size:end])))
            del self._buf[:end]
        return frames


def hijack(api: Any, exec_id: str, *, tty: bool, size: tuple[int, int] | None = None) -> tuple[Any, Any]:
    """Start the exec on an upgraded connection: (reader, socket). The reader is the HTTP
    response's buffered stream, not the bare socket: reading the 101 response's headers
    reads ahead, and a quick command's whole output (or Docker's "OCI runtime exec failed"
    text) is often in that buffer already, where a read of the socket never sees it.
    ``size`` (width, height) sizes the terminal before the command starts (Docker's
    ConsoleSize, API 1.42+, Docker 23+), so even a command that ends at once sees it. An
    older engine has no way to: its resize waits until the process has started (sent
    earlier, it is held until then), so a command that reads the size at once may still
    see 0x0 (busybox stty then fails with a stale errno, "No child processes"), as under
    `docker exec -it` on that engine; anything later sees the size."""
    body: dict[str, Any] = {"Tty": tty, "Detach": False}
    url = api._url("/exec/{0}/start", exec_id)
    if tty and size and _console_size_version(api):
        body["ConsoleSize"] = [size[1], size[0]]  # height, width
        url = url.replace(f"/v{api._version}/", f"/v{_CONSOLE_SIZE_API}/", 1)
    res = api._post_json(url, headers={"Connection": "Upgrade", "Upgrade": "tcp"}, data=body, stream=True)
    api._raise_for_status(res)
    sock = api._get_raw_response_socket(res)
    return res.raw._fp.fp, sock


_CONSOLE_SIZE_API = "1.42"
_server_api: dict[str, tuple[int, ...]] = {}  # base URL -> the engine's API version


def _console_size_version(api: Any) -> bool:
    """Whether the engine takes ConsoleSize (asked once per engine address)."""
    if api.base_url not in _server_api:
        text = str(api.version().get("ApiVersion") or "0")
        _server_api[api.base_url] = tuple(int(p) for p in text.split(".") if p.isdigit())
    return _server_api[api.base_url] >= (1, 42)


class DockerExecSession(ExecSession):
    def __init__(self, api: Any, exec_id: str, reader: Any, sock: Any, *, tty: bool, stdin: bool) -> None:
        self._api, self._exec_id, self._reader, self._sock, self._tty = api, exec_id, reader, sock, tty
        self._stdin = stdin
        self._raw = getattr(sock, "_sock", sock)  # SocketIO wraps the socket on unix and tcp
        self._closed = False

    @classmethod
    def open(cls, api: Any, container_id: str, request: ExecRequest) -> "DockerExecSession":
        """Blocking: create the exec, start it on a hijacked connection, size its terminal.
        SDK errors pass through (the engine adapter translates them)."""
        exec_id = api.exec_create(
            container_id, list(request.command), stdout=True, stderr=True,
            stdin=request.stdin, tty=request.tty,
        )["Id"]
        size = (request.width, request.height) if request.width and request.height else None
        reader, sock = hijack(api, exec_id, tty=request.tty, size=size)
        session = cls(api, exec_id, reader, sock, tty=request.tty, stdin=request.stdin)
        session._raw.settimeout(None)  # an interactive session may be quiet for hours
        if request.tty and request.width and request.height:
            session._resize(request.width, request.height, tries=_RESIZE_TRIES)
        return session

    async def output(self) -> AsyncIterator[tuple[Stream, bytes]]:
        demux = None if self._tty else Demuxer()
        while chunk := await asyncio.to_thread(self._recv):
            if demux is None:
                yield Stream.STDOUT, chunk
            else:
                for frame in demux.feed(chunk):
                    yield frame

    def _recv(self) -> bytes:
        try:
            return bytes(self._reader.read1(_READ_SIZE))
        except (OSError, ValueError):  # ValueError: read from a closed file
            return b""  # closed under us: the session is over

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._raw.sendall, data)
        except OSError as e:
            raise EngineError(f"cannot write to the command's stdin: {e}") from e

    async def close_stdin(self) -> None:
        # Docker closes the command's stdin when its side of the connection is half-closed.
        # Without stdin there is nothing to close, and a half-close racing the output of a
        # command that fails at once ("OCI runtime exec failed") lost that output.
        if not self._stdin:
            return
        try:
            await asyncio.to_thread(self._raw.shutdown, socket.SHUT_WR)
        except OSError:
            pass

    async def resize(self, width: int, height: int) -> None:
        await asyncio.to_thread(self._resize, width, height, tries=1)

    def _resize(self, width: int, height: int, *, tries: int) -> None:
        for attempt in range(tries):
            try:
                self._api.exec_resize(self._exec_id, height=height, width=width)
                return
            except Exception as e:  # the session goes on at the old size
                if attempt == tries - 1:
                    _log.debug("exec.resize_failed", exec_id=self._exec_id[:12], error=str(e))
                else:
                    time.sleep(_RESIZE_PAUSE)

    async def wait(self) -> int:
        return await asyncio.to_thread(self._exit_code)

    def _exit_code(self) -> int:
        deadline = time.monotonic() + _EXIT_CODE_SECONDS
        while True:
            info = self._api.exec_inspect(self._exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                raise EngineError("the command's exit code was not recorded in time")
            time.sleep(0.02)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._raw.shutdown(socket.SHUT_RDWR)  # ends a read waiting in a worker thread
        except OSError:
            pass
        for s in (self._reader, self._sock, self._raw):
            try:
                s.close()
            except OSError:
                pass
