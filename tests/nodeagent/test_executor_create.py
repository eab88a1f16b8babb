"""A container create asked for twice (a reconcile pass that listed the pod's containers
just before the previous pass's create landed) is not a failure: the container asked for
exists. Before, the second create's name conflict was recorded as RunContainerError and the
pod showed that reason while its container ran and was ready (seen on `mixfleet dev` with
manifests/web.yaml)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mixfleet.nodeagent.backoff import BackoffState
from mixfleet.nodeagent.engines.base import StartError
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.executor import Executor
from mixfleet.nodeagent.podspec import container_spec
from mixfleet.nodeagent.reconcile import Create

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "default", "uid": "0123456789abcdef"},
       "spec": {"containers": [{"name": "httpd", "image": "busybox:latest"}]}}


def _executor(engine: SimulatedEngine) -> Executor:
    return Executor(client=None, engine=engine, clock=lambda: datetime.now(timezone.utc),  # type: ignore[arg-type]
                    backoff=BackoffState())


async def test_a_second_create_of_the_same_container_is_not_a_failure() -> None:
    engine = SimulatedEngine(os="linux", hostname="n", cpu=2, images=["busybox:latest"])
    executor = _executor(engine)
    spec = container_spec(POD, POD["spec"]["containers"][0], attempt=0, host_os="linux")
    create = Create(pod_uid="0123456789abcdef", container="httpd", spec=spec)
    await executor._apply(create)
    await executor._apply(create)
    assert not executor.backoff.failures
    assert len(await engine.list_containers()) == 1


async def test_a_name_taken_by_another_spec_is_still_a_failure() -> None:
    """The same name with a different spec (not ours to reuse) is refused and recorded."""
    engine = SimulatedEngine(os="linux", hostname="n", cpu=2, images=["busybox:latest"])
    executor = _executor(engine)
    container = POD["spec"]["containers"][0]
    first = container_spec(POD, container, attempt=0, host_os="linux")
    await executor._apply(Create(pod_uid="0123456789abcdef", container="httpd", spec=first))
    changed = container_spec(POD, {**container, "args": ["x"]}, attempt=0, host_os="linux")
    with pytest.raises(StartError):
        await executor._apply(Create(pod_uid="0123456789abcdef", container="httpd", spec=changed))
    assert executor.backoff.failures
