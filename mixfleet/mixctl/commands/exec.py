"""``mixctl exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]``, as kubectl exec: the
command's output on stdout and stderr, stdin passed with -i, a terminal with -t (the local
one switched to raw mode, its size sent on every SIGWINCH), and the command's exit code as
mixctl's ("command terminated with exit code N" on stderr, like kubectl)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import threading
from typing import AsyncIterator, BinaryIO, Iterator

from mixfleet.client import Client, ExecInput
from mixfleet.mixctl.commands import Subparsers
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.session import Invocation

_READ_SIZE = 65536


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "exec", parents=[common], help="run a command in a container",
        usage="mixctl exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]",
    )
    p.add_argument("pod", metavar="POD | pod/POD")
    p.add_argument("command", nargs="*", metavar="COMMAND", help="the command and its arguments, after --")
    p.add_argument("-c", "--container", default="", help="the container (default: the pod's first)")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    p.add_argument("-t", "--tty", action="store_true", help="run the command on a terminal")
    p.set_defaults(handler=run, extra_positionals="command")


def _pod_name(arg: str) -> str:
    kind, sep, name = arg.partition("/")
    if not sep:
        return arg
    if kind.lower() not in ("po", "pod", "pods"):
        raise CLIError(f"error: exec works on pods, not {kind}")
    return name


def run(args: argparse.Namespace, inv: Invocation) -> int:
    if not args.command:
        raise CLIError("error: you must specify at least one command for the container")
    pod = _pod_name(args.pod)
    use_tty = args.tty
    if use_tty and not (args.stdin and sys.stdin.isatty()):
        # kubectl's words; the command runs without a terminal.
        print("Unable to use a TTY - input is not a terminal or the right kind of file", file=sys.stderr)
        use_tty = False
    session = inv.session

    async def go(client: Client) -> int:
        inputs = _inputs(use_tty) if args.stdin else None
        code = 0
        async for out in client.exec(
            session.namespace, pod, list(args.command), container=args.container,
            inputs=inputs, tty=use_tty, size=_size() if use_tty else None,
        ):
            if out.stdout:
                _write(sys.stdout.buffer, out.stdout)
            if out.stderr:
                _write(sys.stderr.buffer, out.stderr)
            if out.exit_code is not None:
                code = out.exit_code
        return code

    with _raw_terminal(use_tty):
        code = session.run(go)
    if code:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


def _write(stream: BinaryIO, data: bytes) -> None:
    stream.write(data)
    stream.flush()


def _size() -> tuple[int, int]:
    cols, rows = shutil.get_terminal_size()
    return cols, rows


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    """The local terminal in raw mode (keys go to the remote one as typed), restored after."""
    if not enabled:
        yield
        return
    import termios  # POSIX only: imported here so mixctl still runs on Windows
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def _inputs(use_tty: bool) -> AsyncIterator[ExecInput]:
    """stdin as it is read, its end, and the terminal's new size after each SIGWINCH.
    stdin is read by a daemon thread: a read blocked on a terminal must not keep mixctl
    alive once the command has ended."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ExecInput] = asyncio.Queue()

    def put(msg: ExecInput) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            loop.call_soon_threadsafe(queue.put_nowait, msg)

    def read() -> None:
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except OSError:
                data = b""
            if not data:
                put(ExecInput(close_stdin=True))
                return
            put(ExecInput(stdin=data))

    threading.Thread(target=read, name="mixctl-stdin", daemon=True).start()
    winch = getattr(signal, "SIGWINCH", None) if use_tty else None  # no SIGWINCH on Windows
    if winch is not None:
        loop.add_signal_handler(winch, lambda: queue.put_nowait(ExecInput(resize=_size())))
    try:
        while True:
            msg = await queue.get()
            yield msg
            if msg.close_stdin:
                return
    finally:
        if winch is not None:
            loop.remove_signal_handler(winch)
