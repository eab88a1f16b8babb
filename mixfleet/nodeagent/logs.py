"""Finding the container behind a logs request (pod namespace/name and container name)."""

from __future__ import annotations

from typing import Mapping

from mixfleet.nodeagent.engines.base import ContainerState, Engine
from mixfleet.nodeagent.podspec import (
    LABEL_CONTAINER,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    MANAGED,
    attempt_of,
)
from mixfleet.nodeagent.sandbox import LABEL_TYPE, TYPE_INIT, TYPE_SANDBOX


class NoContainerError(LookupError):
    pass


async def find_container(
    engine: Engine,
    *,
    namespace: str,
    pod: str,
    container: str = "",
    labels: Mapping[str, str] = MANAGED,
) -> ContainerState:
    """The newest attempt of the named container (or of the pod's only/first container)
    among the containers carrying ``labels`` (the agent's node label)."""
    want = {**labels, LABEL_POD_NAMESPACE: namespace or "default", LABEL_POD_NAME: pod}
    # The pod's sandbox holds only its network: never a container a user means.
    found = [c for c in await engine.list_containers(want) if c.labels.get(LABEL_TYPE) != TYPE_SANDBOX]
    if container:
        found = [c for c in found if c.labels.get(LABEL_CONTAINER) == container]
    if not found:
        what = f'container "{container}" of pod' if container else "pod"
        raise NoContainerError(
            f'{what} "{namespace or "default"}/{pod}" has no container on this node'
        )
    apps = [c for c in found if c.labels.get(LABEL_TYPE) != TYPE_INIT]
    found = apps or found  # by default an app container, as kubectl picks
    first = min(c.labels.get(LABEL_CONTAINER, "") for c in found)
    mine = [c for c in found if c.labels.get(LABEL_CONTAINER, "") == first]
    return max(mine, key=attempt_of)
