"""The ConfigMaps and Secrets the pods of this node refer to, read from the control plane.

Like the kubelet's ``Cache`` change-detection strategy: each object is fetched by name with
a Get (the client's deadline and retries) when a pod needs it, and kept for ``ttl_seconds``;
concurrent needs of one object share one Get. Nothing is listed and nothing is watched, so
an agent costs the control plane only the objects its pods name, and thousands of hollow
nodes sharing one connection do not run into the per-client watch limit (a watch per
object, the kubelet's default, would). A missing object is never cached: a pod waiting for
it sees it on its next retry. No value of a Secret is ever logged or put in an error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping

from mixfleet.client import APIError, Client, NotFoundError
from mixfleet.nodeagent.volumes.errors import ContainerConfigError
from mixfleet.util import log

_log = log.get("nodeagent.configobjects")
Key = tuple[str, str, str]  # kind, namespace, name


class ConfigObjects:
    def __init__(
        self,
        client: Client,
        *,
        ttl_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._cache: dict[Key, tuple[float, Mapping[str, Any]]] = {}
        self._inflight: dict[Key, asyncio.Task[Mapping[str, Any] | None]] = {}
        self.gets = 0  # Gets sent (tests and benchmarks)

    async def get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The object, or None when it does not exist. Raises ContainerConfigError when the
        control plane cannot tell (after the client's retries)."""
        key = (kind, namespace, name)
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and now - hit[0] < self.ttl_seconds:
            return hit[1]
        task = self._inflight.get(key)
        if task is None:
            task = self._inflight[key] = asyncio.create_task(self._fetch(key))
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(self, key: Key) -> Mapping[str, Any] | None:
        kind, namespace, name = key
        self.gets += 1
        try:
            obj = await self.client.get(kind, name, namespace)
        except NotFoundError:
            self._cache.pop(key, None)
            return None
        except APIError as e:
            _log.warning("configobject.get_failed", kind=kind, object=f"{namespace}/{name}", error=str(e))
            raise ContainerConfigError(f"failed to sync {kind.lower()} cache: {e}") from e
        self._prune()
        self._cache[key] = (self.clock(), obj)
        return obj

    def _prune(self) -> None:
        """Forget objects nobody asked for in a while (pods that went away)."""
        old = self.clock() - 10 * self.ttl_seconds
        for key in [k for k, (at, _) in self._cache.items() if at < old]:
            del self._cache[key]
