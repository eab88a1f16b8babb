"""The readiness probe scheduler's bookkeeping: spec defaults, thresholds, period, initial
delay, and starting over when a container restarts; driven by a fake clock."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import pytest

from mixfleet.nodeagent.engines.base import (
    ContainerState,
    EngineError,
    ExecResult,
)
from mixfleet.nodeagent.engines.netprobe import ExecAction, GRPCAction, HTTPGetAction, TCPSocketAction
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.podspec import container_spec
from mixfleet.nodeagent.probes import Prober, ProbeSpec, ProbeState
from mixfleet.nodeagent.status import pod_status
from tests.nodeagent.builders import T0, at, exited, make_container, make_pod


class ScriptedEngine(SimulatedEngine):
    """Records each exec; answers with the exit code set in ``code`` (or raises ``error``)."""

    def __init__(self) -> None:
        super().__init__(os="linux")
        self.calls: list[tuple[str, tuple[str, ...], float]] = []
        self.code = 0
        self.error: EngineError | None = None

    async def exec(
        self, container_id: str, command: Sequence[str], *, timeout: float
    ) -> ExecResult:
        self.calls.append((container_id, tuple(command), timeout))
        if self.error is not None:
            raise self.error
        return ExecResult(self.code, "")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def probed_pod(**probe: object) -> dict:
    pod = make_pod()
    pod["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["test", "-f", "/tmp/ready"]},
        **probe,
    }
    return pod


class Rig:
    def __init__(self, **probe: object) -> None:
        self.engine, self.clock, self.changes = ScriptedEngine(), Clock(), 0
        self.prober = Prober(self.engine, on_change=self._changed, now=self.clock)
        self.pod = probed_pod(**probe)
        self.container = make_container(self.pod, started=0)

    def _changed(self) -> None:
        self.changes += 1

    def sync(self, *containers: ContainerState, wall: float = 0) -> None:
        self.prober.sync([self.pod], containers or [self.container], wall_now=at(wall))

    async def tick(self, seconds: float, *, code: int | None = None) -> None:
        if code is not None:
            self.engine.code = code
        self.clock.t += seconds
        await self.prober.run_due()

    @property
    def ready(self) -> bool:
        return self.container.id in self.prober.ready


@pytest.mark.parametrize(
    "probe, expected",
    [
        pytest.param(
            {"exec": {"command": ["true"]}},
            ProbeSpec(ExecAction(("true",)), 0, 10, 1, 1, 3),
            id="kubernetes-defaults",
        ),
        pytest.param(
            {
                "exec": {"command": ["cat", "/ok"]},
                "initialDelaySeconds": 5,
                "periodSeconds": 2,
                "timeoutSeconds": 3,
                "successThreshold": 2,
                "failureThreshold": 1,
            },
            ProbeSpec(ExecAction(("cat", "/ok")), 5, 2, 3, 2, 1),
            id="all-fields",
        ),
        pytest.param(
            {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [{"name": "X", "value": "1"}]}},
            ProbeSpec(HTTPGetAction(8080, "/healthz", "", "HTTP", (("X", "1"),))),
            id="httpGet",
        ),
        pytest.param({"tcpSocket": {"port": 5432}}, ProbeSpec(TCPSocketAction(5432)), id="tcpSocket"),
        pytest.param({"grpc": {"port": 9090, "service": "db"}}, ProbeSpec(GRPCAction(9090, "db")), id="grpc"),
        pytest.param(None, None, id="no-probe"),
    ],
)
def test_probe_spec_from_container(probe, expected):
    """A container's readinessProbe is read with Kubernetes defaults, for every handler."""
    assert ProbeSpec.of({"name": "c", "readinessProbe": probe}) == expected


@pytest.mark.parametrize(
    "results, success, failure, ready",
    [
        pytest.param([], 1, 3, False, id="not-ready-before-first-probe"),
        pytest.param([True], 1, 3, True, id="one-success-ready"),
        pytest.param([True], 2, 3, False, id="needs-two-successes"),
        pytest.param([True, True], 2, 3, True, id="two-successes-ready"),
        pytest.param([True, False, False], 1, 3, True, id="two-failures-tolerated"),
        pytest.param([True, False, False, False], 1, 3, False, id="third-failure-unready"),
        pytest.param([True, False, False, True, False], 1, 3, True, id="success-resets-count"),
        pytest.param([True, False], 1, 1, False, id="threshold-one"),
    ],
)
def test_thresholds(results, success, failure, ready):
    """Readiness flips only after the configured run of consecutive results."""
    spec = ProbeSpec(ExecAction(("true",)), success_threshold=success, failure_threshold=failure)
    state = ProbeState()
    for ok in results:
        state = state.record(ok, spec)
    assert state.ready is ready


async def test_probes_on_period_not_before():
    """A probe runs at once (no initial delay), then again only when its period has passed."""
    rig = Rig(periodSeconds=5)
    rig.sync()
    await rig.tick(0)
    await rig.tick(4.9)
    assert len(rig.engine.calls) == 1
    await rig.tick(0.1)
    assert rig.engine.calls == [(rig.container.id, ("test", "-f", "/tmp/ready"), 1.0)] * 2


async def test_initial_delay_counts_from_container_start():
    """initialDelaySeconds is measured from the container's start, not from when it was seen."""
    rig = Rig(initialDelaySeconds=10)
    rig.sync(wall=4)  # the container started 4 s ago
    await rig.tick(5.9)
    assert rig.engine.calls == []
    await rig.tick(0.1)
    assert len(rig.engine.calls) == 1


async def test_failure_threshold_and_change_callback():
    """Ready after a success; unready only after failureThreshold failures; each flip calls
    on_change once, so the agent reports status promptly."""
    rig = Rig(periodSeconds=1, failureThreshold=2)
    rig.sync()
    await rig.tick(0, code=0)
    assert (rig.ready, rig.changes) == (True, 1)
    await rig.tick(1, code=1)
    assert (rig.ready, rig.changes) == (True, 1)
    await rig.tick(1)
    assert (rig.ready, rig.changes) == (False, 2)


async def test_engine_error_counts_as_failure():
    """A probe that cannot run (timeout, container gone) is a failed probe."""
    rig = Rig(periodSeconds=1, failureThreshold=1)
    rig.sync()
    await rig.tick(0)
    rig.engine.error = EngineError("command timed out")
    await rig.tick(1)
    assert not rig.ready and rig.prober.state(rig.container.id) == ProbeState(False, 0, 1)


async def test_restart_starts_over_not_ready():
    """A container that started again (new start time) is not ready until probed again."""
    rig = Rig(periodSeconds=10)
    rig.sync()
    await rig.tick(0)
    assert rig.ready
    rig.container = dataclasses.replace(rig.container, started_at=at(30))
    rig.sync(wall=30)
    assert not rig.ready and rig.prober.state(rig.container.id) == ProbeState()
    assert rig.changes == 2  # ready, then not ready again
    await rig.tick(0)
    assert rig.ready and len(rig.engine.calls) == 2


async def test_stopped_container_is_forgotten():
    """An exited or removed container is no longer probed and leaves the ready set."""
    rig = Rig(periodSeconds=1)
    rig.sync()
    await rig.tick(0)
    rig.sync(exited(rig.pod, code=0))
    await rig.tick(5)
    assert rig.prober.state(rig.container.id) is None and not rig.prober.ready
    assert len(rig.engine.calls) == 1 and rig.prober.next_due() is None


async def test_containers_without_probe_not_tracked():
    """Pods without a probe cost the scheduler nothing."""
    rig = Rig()
    plain = make_pod(name="plain", uid="uid-plain")
    rig.prober.sync([plain], [make_container(plain)], wall_now=T0)
    assert rig.prober.next_due() is None


def test_status_ready_follows_probe():
    """A running probed container is ready only while its probe passes; the pod's Ready and
    ContainersReady conditions follow; an unprobed running container is ready."""
    pod, plain = probed_pod(), make_pod(name="plain", uid="uid-plain")
    c = make_container(pod)

    def ready(p: dict, ids: frozenset[str]) -> tuple[bool, str, str]:
        st = pod_status(p, [c, make_container(plain)], now=at(0), ready_ids=ids)
        conds = {x["type"]: x["status"] for x in st["conditions"]}
        return st["containerStatuses"][0]["ready"], conds["ContainersReady"], conds["Ready"]

    assert ready(pod, frozenset()) == (False, "False", "False")
    assert ready(pod, frozenset({c.id})) == (True, "True", "True")
    assert ready(plain, frozenset()) == (True, "True", "True")
    assert pod_status(pod, [c], now=at(0))["phase"] == "Running"


@pytest.mark.parametrize(
    "command, code",
    [
        pytest.param(["false"], 1, id="false-fails"),
        pytest.param(["sh", "-c", "exit 4"], 4, id="exit-n"),
        pytest.param(["test", "-f", "/tmp/ready"], 0, id="anything-else-succeeds"),
        pytest.param(["cat", "/flip"], 2, id="exec-codes-override"),
    ],
)
async def test_simulated_exec_rules(command, code):
    """The simulated engine's exec is deterministic: false -> 1, exit N -> N, set codes win."""
    engine = SimulatedEngine(os="linux", images=["mixfleet/busybox:latest"])
    engine.exec_codes["cat /flip"] = 2
    pod = make_pod()
    cid = await engine.create_and_start(
        container_spec(pod, pod["spec"]["containers"][0], attempt=0, host_os="linux")
    )
    assert (await engine.exec(cid, command, timeout=1)).exit_code == code
    await engine.stop(cid, 0)
    with pytest.raises(EngineError, match="is not running"):
        await engine.exec(cid, command, timeout=1)
