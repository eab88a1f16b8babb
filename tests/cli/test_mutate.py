"""The read-modify-write loop behind cordon and scale, against a recording fake client."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mixfleet.api.kinds import lookup
from mixfleet.client import ConflictError, NotFoundError
from mixfleet.mixctl.errors import CLIError
from mixfleet.mixctl.objects import mutate


class RecordingClient:
    """Stores one object; the first ``conflicts`` updates lose a race (someone else wrote)."""

    def __init__(self, obj: dict[str, Any] | None, *, conflicts: int = 0) -> None:
        self.obj = obj
        self.conflicts = conflicts
        self.actions: list[str] = []

    async def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
        self.actions.append(f"get {kind}/{name}")
        if self.obj is None:
            raise NotFoundError(f"{kind} {name} not found")
        return copy.deepcopy(self.obj)

    async def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.actions.append(f"update replicas={obj['spec'].get('replicas')}")
        if self.conflicts:
            self.conflicts -= 1
            raise ConflictError("the object has been modified")
        self.obj = obj
        return obj


def _set(n: int):  # type: ignore[no-untyped-def]
    def change(o: dict[str, Any]) -> bool:
        if o["spec"].get("replicas") == n:
            return False
        o["spec"]["replicas"] = n
        return True

    return change


async def test_conflict_is_retried_from_a_fresh_read() -> None:
    """A lost compare-and-swap re-reads the object and tries again."""
    client = RecordingClient({"spec": {"replicas": 1}}, conflicts=2)
    obj, changed = await mutate(client, lookup("deploy"), "web", "default", _set(3))  # type: ignore[arg-type]
    assert changed and obj["spec"]["replicas"] == 3
    assert client.actions == ["get Deployment/web", "update replicas=3"] * 3


async def test_nothing_to_change_writes_nothing() -> None:
    """When the object already is as wanted, no update is sent."""
    client = RecordingClient({"spec": {"replicas": 3}})
    _, changed = await mutate(client, lookup("deploy"), "web", "default", _set(3))  # type: ignore[arg-type]
    assert not changed and client.actions == ["get Deployment/web"]


async def test_endless_conflicts_give_up() -> None:
    """After a few lost races the conflict is reported instead of looping forever."""
    client = RecordingClient({"spec": {"replicas": 1}}, conflicts=100)
    with pytest.raises(ConflictError):
        await mutate(client, lookup("deploy"), "web", "default", _set(3))  # type: ignore[arg-type]


async def test_missing_object_is_kubectl_not_found() -> None:
    """A missing object is reported the way kubectl words it."""
    with pytest.raises(CLIError, match=r'^Error from server \(NotFound\): deployments.apps "web" not found$'):
        await mutate(RecordingClient(None), lookup("deploy"), "web", "default", _set(3))  # type: ignore[arg-type]
