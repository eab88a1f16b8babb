"""``mixctl exec`` on the simulated engine: a tiny shell, enough to see what a command run in
a simulated container would see. ``sh -c``, ``cmd /c`` and ``powershell -Command`` scripts
are split on ``;``, ``&&`` and ``&``; each step is one of ``echo WORDS``, ``cat`` (stdin to
stdout until stdin ends), ``whoami`` and ``id -u`` / ``id -g`` (the container's user, as
the engine resolved it), ``hostname``, ``true``, ``false``, ``exit N``. Any other command
is not found, in the words of the container's shell (exit 127 on Linux, 9009 on Windows)."""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass
from typing import AsyncIterator, Sequence

from mixfleet.nodeagent.engines.sessions import ExecSession, Stream

_STEPS = re.compile(r"\s*(?:&&|;|&)\s*")
_SHELLS = {"sh": "-c", "/bin/sh": "-c", "bash": "-c", "/bin/bash": "-c", "cmd": "/c", "cmd.exe": "/c",
           "powershell": "-command", "powershell.exe": "-command", "pwsh": "-command"}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the simulated command runs as."""

    os: str  # linux | windows
    user: str  # whoami: "root", "1234", "user manager\\containeruser"
    uid: int = 0
    gid: int = 0
    hostname: str = ""


def script_steps(command: Sequence[str]) -> list[list[str]]:
    """The steps a shell would run for ``command`` (argv), each split into words."""
    words = list(command)
    if len(words) >= 3 and _SHELLS.get(words[0].lower()) == words[1].lower():
        script = " ".join(words[2:])
    else:
        script = " ".join(shlex.quote(w) for w in words)
    steps = []
    for part in _STEPS.split(script.strip()):
        if part:
            try:
                steps.append(shlex.split(part))
            except ValueError:
                steps.append(part.split())
    return steps


class SimulatedExecSession(ExecSession):
    def __init__(self, command: Sequence[str], identity: Identity) -> None:
        self._steps = script_steps(command)
        self._who = identity
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._code: int | None = None

    async def output(self) -> AsyncIterator[tuple[Stream, bytes]]:
        code = 0
        for words in self._steps:
            if not words:
                continue
            name, args = words[0], words[1:]
            if name == "exit":
                code = int(args[0]) if args and args[0].isdigit() else code
                break
            if name == "cat" and not args:
                while (data := await self._stdin.get()) is not None:
                    yield Stream.STDOUT, data
                code = 0
                continue
            text, code = self._run(name, args)
            if text:
                yield (Stream.STDOUT if code == 0 else Stream.STDERR), text.encode()
        self._code = code

    def _run(self, name: str, args: list[str]) -> tuple[str, int]:
        eol = "\r\n" if self._who.os == "windows" else "\n"
        simple = {
            "echo": " ".join(args) + eol,
            "whoami": self._who.user + eol,
            "hostname": self._who.hostname + eol,
            "true": "",
        }
        if name in simple:
            return simple[name], 0
        if name == "false":
            return "", 1
        if name == "id" and args in (["-u"], ["-g"]) and self._who.os == "linux":
            return f"{self._who.uid if args == ['-u'] else self._who.gid}{eol}", 0
        if self._who.os == "windows":
            return (f"'{name}' is not recognized as an internal or external command,{eol}"
                    f"operable program or batch file.{eol}"), 9009
        return f"sh: {name}: not found{eol}", 127

    async def write(self, data: bytes) -> None:
        self._stdin.put_nowait(data)

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(None)

    async def resize(self, width: int, height: int) -> None:
        pass  # no terminal to size

    async def wait(self) -> int:
        return self._code if self._code is not None else 0

    async def close(self) -> None:
        self._stdin.put_nowait(None)
