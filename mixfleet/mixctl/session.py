"""One invocation's connection to the control plane: the resolved target and a way to run
async client code from synchronous command handlers."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Awaitable, Callable, Mapping, Protocol, TypeVar

from mixfleet.client import Client
from mixfleet.mixctl import config as cfg

T = TypeVar("T")

# Short on purpose: a CLI pointed at a dead server should say so in seconds, not retry for
# the 15 s a long-running component would.
RETRY_SECONDS = 1.5
TIMEOUT_SECONDS = 10.0


class ClientFactory(Protocol):
    def __call__(self, target: str, credentials: cfg.Credentials = cfg.Credentials()) -> Client: ...


def default_client(target: str, credentials: cfg.Credentials = cfg.Credentials()) -> Client:
    return Client(
        target, timeout=TIMEOUT_SECONDS, retry_seconds=RETRY_SECONDS,
        tls=credentials.tls(), token=credentials.token,
    )


@dataclass(frozen=True, slots=True)
class Session:
    target: cfg.Target
    client_factory: ClientFactory = default_client

    @property
    def namespace(self) -> str:
        return self.target.namespace

    def run(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        """Run ``fn(client)`` on a fresh event loop and close the client afterwards."""
        return asyncio.run(self._with_client(fn))

    async def _with_client(self, fn: Callable[[Client], Awaitable[T]]) -> T:
        async with self.client_factory(self.target.server, self.target.credentials) as client:
            return await fn(client)


@dataclass(frozen=True)
class Invocation:
    """The global flags and environment of one mixctl run. Commands that talk to the control
    plane call ``session``; ``config`` commands read and write ``config_path`` only, so a
    broken current-context never stops the user from fixing it."""

    server_flag: str | None = None
    context_flag: str | None = None
    namespace_flag: str | None = None
    environ: Mapping[str, str] | None = None
    client_factory: ClientFactory = default_client

    @property
    def config_path(self) -> Path:
        return cfg.config_path(self.environ)

    def load_config(self) -> cfg.Config:
        return cfg.load(self.config_path)

    @cached_property
    def target(self) -> cfg.Target:
        return cfg.resolve(
            self.load_config(),
            server_flag=self.server_flag,
            context_flag=self.context_flag,
            namespace_flag=self.namespace_flag,
            environ=os.environ if self.environ is None else self.environ,
        )

    @property
    def session(self) -> Session:
        return Session(self.target, self.client_factory)
