"""How the node agent reads an object a pod refers to (a claim, a ConfigMap): through the
control plane, with the client's timeouts and retries; "not found" is None, and a control
plane that cannot answer is a ContainerConfigError, so the container waits and is retried."""

from __future__ import annotations

from typing import Any, Mapping

from mixfleet.client import APIError, Client, NotFoundError
from mixfleet.nodeagent.volumes.errors import ContainerConfigError
from mixfleet.nodeagent.volumes.sources import ObjectGetter


def object_getter(client: Client) -> ObjectGetter:
    async def get(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            return await client.get(kind, name, namespace)
        except NotFoundError:
            return None
        except APIError as e:
            raise ContainerConfigError(f"cannot read {kind} {namespace}/{name}: {e}") from e

    return get
