"""An interactive command in a running container (``mixctl exec``), as every engine offers it:
input in (stdin, its end, terminal resizes), output out (stdout and stderr, one stream with
a terminal), then the exit code. The Docker adapter drives its exec API over the hijacked
connection (:mod:`.docker_exec`); the simulated engine runs a tiny shell (:mod:`.simulated_exec`).
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import AsyncIterator, Sequence


class Stream(enum.IntEnum):
    """Docker's stream numbers, which its multiplexed exec output carries."""

    STDOUT = 1
    STDERR = 2


@dataclass(frozen=True, slots=True)
class ExecRequest:
    command: Sequence[str]
    stdin: bool = False
    tty: bool = False
    width: int = 0  # the terminal's size (tty only); 0: the engine's default
    height: int = 0


class ExecSession(abc.ABC):
    """One running command. ``output`` ends when the command has ended; ``wait`` then gives
    its exit code. ``close`` ends the session at any point (the client went away)."""

    @abc.abstractmethod
    def output(self) -> AsyncIterator[tuple[Stream, bytes]]: ...

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def close_stdin(self) -> None: ...

    @abc.abstractmethod
    async def resize(self, width: int, height: int) -> None: ...

    @abc.abstractmethod
    async def wait(self) -> int: ...

    @abc.abstractmethod
    async def close(self) -> None: ...
