"""A workload asking for more replicas than the control plane allows is refused at every
user write, naming the field and the limit; the controllers' own writes are not limited."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from mixfleet.api import limits
from mixfleet.client import Client, InvalidError
from tests.controllers.conftest import deployment

HUGE = 1_000_000_000
MESSAGE = (f"spec.replicas: {HUGE} is above the limit of 10000 replicas per workload "
           "(--max-replicas)")


def replicaset(name: str, *, replicas: int) -> dict[str, Any]:
    d = deployment(name, replicas=replicas)
    return {**d, "kind": "ReplicaSet", "spec": {k: d["spec"][k] for k in ("replicas", "selector", "template")}}


@pytest.mark.parametrize("obj", [
    pytest.param(deployment("huge", replicas=HUGE), id="deployment"),
    pytest.param(replicaset("huge", replicas=HUGE), id="replicaset"),
])
def test_the_limit_names_the_field_and_the_flag(obj: dict[str, Any]) -> None:
    """The error says which field, the value, the limit and how to change it."""
    (err,) = limits.errors(obj, limits.DEFAULT)
    assert f"{err.path}: {err.message}" == MESSAGE


def test_at_the_limit_is_accepted_and_other_kinds_are_not_limited() -> None:
    """Exactly the limit is allowed; a Pod has no replicas to limit."""
    assert limits.errors(deployment("ok", replicas=10_000), limits.DEFAULT) == []
    assert limits.errors({"kind": "Pod", "spec": {"replicas": HUGE}}, limits.DEFAULT) == []


async def test_create_apply_update_refuse_too_many_replicas(client: Client) -> None:
    """create, apply and update (as `mixctl scale` does) answer INVALID_ARGUMENT naming
    spec.replicas and the limit, and write nothing."""
    with pytest.raises(InvalidError, match=r"spec\.replicas: 1000000000 is above the limit of 10000"):
        await client.create(deployment("huge", replicas=HUGE))
    with pytest.raises(InvalidError, match=r"--max-replicas"):
        await client.apply([replicaset("huge-rs", replicas=HUGE)])
    sets, _ = await client.list("ReplicaSet")
    deps, _ = await client.list("Deployment")
    assert not [o for o in sets + deps if o["metadata"]["name"].startswith("huge")]

    d = await client.create(deployment("small", replicas=0))
    d["spec"]["replicas"] = 10_001
    with pytest.raises(InvalidError, match=r"10001 is above the limit of 10000"):
        await client.update(d)
    assert (await client.get("Deployment", "small"))["spec"]["replicas"] == 0


@pytest_asyncio.fixture
async def low_limit(tmp_path: Path) -> AsyncIterator[Client]:
    """A control plane started with max_replicas=5 (what --max-replicas 5 sets)."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    cp = ControlPlane(ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}",
                                         listen="127.0.0.1:0", max_replicas=5))
    await cp.start()
    try:
        async with Client(cp.address, retry_seconds=5) as c:
            yield c
    finally:
        await cp.stop()


async def test_the_limit_is_the_control_planes(low_limit: Client) -> None:
    """A lower configured limit is the one enforced and named."""
    await low_limit.create(deployment("five", replicas=5))
    with pytest.raises(InvalidError, match=r"spec\.replicas: 6 is above the limit of 5 replicas"):
        await low_limit.create(deployment("six", replicas=6))
