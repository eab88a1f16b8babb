"""CronJobs make their Jobs on schedule, on real agents (a real dockerd, simulated nodes).

The control plane schedules CronJobs by a clock the tests move forward (``MovableClock``),
so a `* * * * *` schedule fires when the test says a minute has passed, not a minute later.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from mixfleet.api import batch, times
from mixfleet.client import APIError, Client, NotFoundError
from tests.controllers.agents import FAST_AGENT, SimulatedNode
from tests.controllers.conftest import eventually, run_mixctl
from tests.controllers.test_job import api, sim_node  # noqa: F401  (fixtures: on this module's cp)

IMAGE = "mixfleet/busybox:latest"


class MovableClock:
    """The wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def forward(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def to_next_minute(self) -> datetime:
        """Move to 1 s past the next whole minute; returns that minute."""
        now = self()
        minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        self.offset += minute + timedelta(seconds=1) - now
        return minute


def cronjob(name: str, script: str, *, schedule: str = "* * * * *", **spec: Any) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": schedule,
            **spec,
            "jobTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {"backoffLimit": 0, "template": {"spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "work", "image": IMAGE, "command": ["sh", "-c", script],
                                    "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}}],
                }}},
            },
        },
    }


def _config(tmp_path: Path, clock: MovableClock) -> Any:
    from mixfleet.controlplane.app import ControlPlaneConfig

    return ControlPlaneConfig(store_url=f"sqlite:///{tmp_path / 'state.db'}", listen="127.0.0.1:0",
                              job_backoff_seconds=0.2, cronjob_clock=clock, cronjob_resync_seconds=0.1)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest_asyncio.fixture
async def cp(tmp_path: Path, clock: MovableClock) -> AsyncIterator[Any]:
    from mixfleet.controlplane.app import ControlPlane

    plane = ControlPlane(_config(tmp_path, clock))
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


async def _jobs(api: Client, cronjob_name: str) -> list[dict]:
    jobs, _ = await api.list("Job", namespace="default", label_selector=f"app={cronjob_name}")
    return sorted(jobs, key=lambda j: j["metadata"]["name"])


def _job_for(name: str, minute: datetime) -> str:
    return f"{name}-{int(minute.timestamp()) // 60}"


async def _names(api: Client, name: str) -> list[str]:
    return [j["metadata"]["name"] for j in await _jobs(api, name)]


async def _has_jobs(api: Client, name: str, want: list[str]) -> list[str] | None:
    got = await _names(api, name)
    return got if got == sorted(want) else None


async def _complete(api: Client, job_name: str) -> str | None:
    try:
        return batch.finished(await api.get("Job", job_name, "default"))
    except NotFoundError:
        return None


async def _event(api: Client, name: str, reason: str) -> dict | None:
    events, _ = await api.list("Event", namespace="default")
    return next((e for e in events if e["reason"] == reason and e["involvedObject"]["name"] == name), None)


@pytest.mark.docker
async def test_cronjob_runs_its_job_on_docker(cp: Any, api: Client, clock: MovableClock, dockerd) -> None:
    """A `* * * * *` CronJob: when the minute comes its Job is made, named after the minute,
    owned by the CronJob and stamped with the scheduled time; the Job's busybox pod runs to
    completion on a real dockerd, and the CronJob records lastScheduleTime and
    lastSuccessfulTime. mixctl get cronjobs shows it."""
    from mixfleet.nodeagent.agent import Agent, AgentConfig
    from mixfleet.nodeagent.engines.docker_engine import DockerEngine
    from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED

    node = f"docker-{uuid.uuid4().hex[:6]}"
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    agent = asyncio.create_task(Agent(api, engine, node, config=AgentConfig(**FAST_AGENT)).run())  # type: ignore[arg-type]
    try:
        cj = await api.create(cronjob("tick", "echo tick"))
        minute = clock.to_next_minute()
        name = _job_for("tick", minute)
        await eventually(lambda: _has_jobs(api, "tick", [name]), what="the minute's Job")
        job = await api.get("Job", name, "default")
        assert job["metadata"]["ownerReferences"][0]["uid"] == cj["metadata"]["uid"]
        assert times.parse_time(job["metadata"]["annotations"][batch.SCHEDULED_AT]) == minute
        assert await eventually(lambda: _complete(api, name), what="job complete", timeout=90) == "Complete"
        pods, _ = await api.list("Pod", namespace="default", label_selector=f"job-name={name}")
        assert [p["spec"]["nodeName"] for p in pods] == [node]
        assert pods[0]["status"]["phase"] == "Succeeded"

        async def recorded() -> dict | None:
            st = (await api.get("CronJob", "tick", "default")).get("status") or {}
            return st if st.get("lastSuccessfulTime") and not st.get("active") else None

        st = await eventually(recorded, what="lastSuccessfulTime")
        assert times.parse_time(st["lastScheduleTime"]) == minute
        out = await run_mixctl(cp.address, "get", "cj")
        header, row = out.splitlines()[:2]
        assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
        assert row.split()[:6] == ["tick", "*", "*", "*", "*", "*"] and "False" in row
    finally:
        agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await agent
        for c in await engine.list_containers({**MANAGED, LABEL_NODE: node}):
            await engine.remove(c.id)
        await engine.close()


async def test_forbid_skips_a_run_while_one_is_active(api: Client, clock: MovableClock,
                                                       sim_node: SimulatedNode) -> None:
    """concurrencyPolicy Forbid: while the first Job runs, the next minute makes no second
    one (a JobAlreadyActive event says why)."""
    await api.create(cronjob("solo", "sleep 3600", concurrencyPolicy="Forbid"))
    first = _job_for("solo", clock.to_next_minute())
    await eventually(lambda: _has_jobs(api, "solo", [first]), what="the first Job")
    clock.to_next_minute()
    await eventually(lambda: _event(api, "solo", "JobAlreadyActive"), what="the skipped run")
    assert await _names(api, "solo") == [first]
    cj = await api.get("CronJob", "solo", "default")
    assert [r["name"] for r in cj["status"]["active"]] == [first]


async def test_replace_deletes_the_running_job(api: Client, clock: MovableClock, sim_node: SimulatedNode) -> None:
    """concurrencyPolicy Replace: the next minute's Job replaces the one still running,
    which is deleted with its pod."""
    await api.create(cronjob("fresh", "sleep 3600", concurrencyPolicy="Replace"))
    first = _job_for("fresh", clock.to_next_minute())
    await eventually(lambda: _has_jobs(api, "fresh", [first]), what="the first Job")
    second = _job_for("fresh", clock.to_next_minute())
    await eventually(lambda: _has_jobs(api, "fresh", [second]), what="the first Job replaced")
    cj = await api.get("CronJob", "fresh", "default")
    assert [r["name"] for r in cj["status"]["active"]] == [second]

    async def first_pods_gone() -> bool:
        pods, _ = await api.list("Pod", namespace="default", label_selector=f"job-name={first}")
        return not pods

    await eventually(first_pods_gone, what="the replaced Job's pod removed")


async def test_allow_runs_jobs_side_by_side(api: Client, clock: MovableClock, sim_node: SimulatedNode) -> None:
    """concurrencyPolicy Allow (the default): a second minute's Job runs next to the first;
    deleting the CronJob deletes both, and their pods."""
    await api.create(cronjob("many", "sleep 3600"))
    first = _job_for("many", clock.to_next_minute())
    await eventually(lambda: _has_jobs(api, "many", [first]), what="the first Job")
    second = _job_for("many", clock.to_next_minute())
    await eventually(lambda: _has_jobs(api, "many", [first, second]), what="both Jobs")
    cj = await api.get("CronJob", "many", "default")
    assert sorted(r["name"] for r in cj["status"]["active"]) == [first, second]
    await api.delete("CronJob", "many", "default")

    async def all_gone() -> bool:
        pods, _ = await api.list("Pod", namespace="default")
        return not await _jobs(api, "many") and not pods

    await eventually(all_gone, what="the CronJob's Jobs and pods deleted with it")


async def test_suspend_stops_firing_and_resume_runs_the_latest(api: Client, clock: MovableClock) -> None:
    """suspend: true makes no Jobs however many minutes pass (while an unsuspended twin
    fires); resumed, it starts only the most recent missed run."""
    await api.create(cronjob("paused", "exit 0", suspend=True))
    await api.create(cronjob("witness", "exit 0"))
    witnessed: list[str] = []
    for _ in range(3):
        minute = clock.to_next_minute()
        witnessed.append(_job_for("witness", minute))
        await eventually(lambda: _has_jobs(api, "witness", witnessed), what="the witness's Job")
    assert await _names(api, "paused") == []
    cj = await api.get("CronJob", "paused", "default")
    cj["spec"]["suspend"] = False
    await api.update(cj)
    await eventually(lambda: _has_jobs(api, "paused", [_job_for("paused", minute)]), what="the latest missed run")
    await asyncio.sleep(1.0)  # time for a wrong extra run of an older missed minute
    assert await _names(api, "paused") == [_job_for("paused", minute)]


async def test_history_limits_prune_finished_jobs(api: Client, clock: MovableClock, sim_node: SimulatedNode) -> None:
    """successfulJobsHistoryLimit 2 keeps the two newest Complete Jobs;
    failedJobsHistoryLimit 1 the newest Failed one; older ones are deleted."""
    await api.create(cronjob("ok", "exit 0", successfulJobsHistoryLimit=2))
    await api.create(cronjob("bad", "exit 3", failedJobsHistoryLimit=1))
    made: dict[str, list[str]] = {"ok": [], "bad": []}
    for _ in range(3):
        minute = clock.to_next_minute()
        for name in made:
            made[name].append(job := _job_for(name, minute))
            await eventually(lambda: _complete(api, job), what=f"{job} finished")
    await eventually(lambda: _has_jobs(api, "ok", made["ok"][1:]), what="the oldest Complete Job pruned")
    await eventually(lambda: _has_jobs(api, "bad", made["bad"][2:]), what="older Failed Jobs pruned")
    assert await _complete(api, made["bad"][2]) == "Failed"
    assert await _event(api, "ok", "SuccessfulDelete")


async def test_too_many_missed_start_times(api: Client, clock: MovableClock) -> None:
    """Three hours of minutes missed: a TooManyMissedTimes event and one Job, for the most
    recent minute only."""
    await api.create(cronjob("late", "exit 0"))
    clock.forward(3 * 3600)
    minute = clock.to_next_minute()
    await eventually(lambda: _has_jobs(api, "late", [_job_for("late", minute)]), what="the latest run")
    ev = await eventually(lambda: _event(api, "late", "TooManyMissedTimes"), what="the event")
    assert "too many missed start times: 18" in ev["message"]  # 3 hours of minutes: 180 or 181
    assert await _names(api, "late") == [_job_for("late", minute)]


async def test_starting_deadline_skips_a_run_too_late_to_start(api: Client, clock: MovableClock) -> None:
    """startingDeadlineSeconds 10: a minute noticed 40 s late is not run (a twin without a
    deadline runs it); the next minute, on time, is."""
    await api.create(cronjob("punctual", "exit 0", startingDeadlineSeconds=10))
    await api.create(cronjob("whenever", "exit 0"))
    late = clock.to_next_minute()
    clock.forward(39)
    await eventually(lambda: _has_jobs(api, "whenever", [_job_for("whenever", late)]), what="the twin's run")
    await asyncio.sleep(1.0)  # time for a wrong late run
    assert await _names(api, "punctual") == []
    following = clock.to_next_minute()
    await eventually(lambda: _has_jobs(api, "punctual", [_job_for("punctual", following)]), what="the on-time run")


async def test_restarted_control_plane_neither_double_fires_nor_loses_a_run(
    tmp_path: Path, clock: MovableClock
) -> None:
    """A control plane stopped right after a run and started again makes no second Job for
    that minute; one that was down while three more minutes came starts the latest of them
    when it is back (Kubernetes: one run for the missed ones), and no other."""
    from mixfleet.controlplane.app import ControlPlane

    first = second = ""
    for step in range(3):
        plane = ControlPlane(_config(tmp_path, clock))
        await plane.start()
        try:
            async with Client(plane.address, retry_seconds=5) as api:
                if step == 0:
                    await api.create(cronjob("steady", "exit 0"))
                    first = _job_for("steady", clock.to_next_minute())
                    await eventually(lambda: _has_jobs(api, "steady", [first]), what="the first run")
                elif step == 1:
                    await asyncio.sleep(1.0)  # time for a wrong second Job of the same minute
                    assert await _names(api, "steady") == [first]
                    clock.forward(120)
                    second = _job_for("steady", clock.to_next_minute())
                    await plane.stop()  # down when the minute comes
                    continue
                else:
                    await eventually(lambda: _has_jobs(api, "steady", [first, second]), what="the missed run")
                    await asyncio.sleep(1.0)  # time for a wrong extra run
                    assert await _names(api, "steady") == [first, second]
                    cj = await api.get("CronJob", "steady", "default")
                    assert cj["status"]["lastScheduleTime"] == times.format_time(
                        datetime.fromtimestamp(int(second.rsplit("-", 1)[1]) * 60, timezone.utc))
        finally:
            if step != 1:
                await plane.stop()


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param({"schedule": "61 * * * *"}, 'spec.schedule: "61 * * * *" is not a valid cron schedule', id="minute-61"),
    pytest.param({"schedule": "* * * *"}, "spec.schedule: ", id="four-fields"),
    pytest.param({"schedule": "*/5 * * * * *"}, "spec.schedule: ", id="six-fields"),
    pytest.param({"schedule": "0 0 30 2 *"}, "never matches a date", id="february-30"),
    pytest.param({"schedule": "@every 5m"}, "@every is not supported by Mixfleet", id="every"),
    pytest.param({"schedule": "TZ=UTC * * * * *"}, "spec.schedule: the time zone goes in spec.timeZone", id="tz-prefix"),
    pytest.param({"timeZone": "Mars/Olympus"}, 'spec.timeZone: unknown time zone "Mars/Olympus"', id="unknown-zone"),
    pytest.param({"timeZone": "Local"}, "spec.timeZone: unknown time zone", id="local-zone"),
    pytest.param({"timeZone": ""}, "spec.timeZone: must be unset", id="empty-zone"),
    pytest.param({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy", id="policy"),
    pytest.param({"jobTemplate": {"spec": {"suspend": True, "template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": IMAGE}]}}}}},
        "spec.jobTemplate.spec.suspend: not supported by Mixfleet", id="job-suspend"),
    pytest.param({"jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Always", "containers": [{"name": "c", "image": IMAGE}]}}}}},
        'spec.jobTemplate.spec.template.spec.restartPolicy: unsupported value "Always"', id="job-restart-always"),
])
async def test_bad_schedules_are_refused(api: Client, spec: dict, message: str) -> None:
    """A schedule or time zone no one can act on is refused at apply, naming the field;
    nothing is stored."""
    bad = cronjob("nope", "exit 0")
    bad["spec"].update(spec)
    with pytest.raises(APIError, match=re.escape(message)):
        await api.create(bad)
    items, _ = await api.list("CronJob", namespace="default")
    assert not items


async def test_time_zone_and_macro_schedules_are_accepted(api: Client) -> None:
    """@hourly-style macros and IANA zones apply."""
    for name, spec in (("hourly", {"schedule": "@hourly"}),
                       ("berlin", {"schedule": "30 6 * * 1-5", "timeZone": "Europe/Berlin"})):
        obj = cronjob(name, "exit 0")
        obj["spec"].update(spec)
        await api.create(obj)
    items, _ = await api.list("CronJob", namespace="default")
    assert sorted(i["metadata"]["name"] for i in items) == ["berlin", "hourly"]


async def test_mixctl_refuses_describes_and_makes_a_job_from_a_cronjob(
    cp: Any, api: Client, clock: MovableClock, tmp_path: Path
) -> None:
    """mixctl apply refuses a bad schedule naming file, document and field (exit 1, no
    traceback, nothing stored); describe shows the schedule, the active Job and the events;
    `create job --from=cronjob/NAME` makes a Job of its template, marked manual."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: typo}\n"
        "spec:\n  schedule: '*/5 * * *'\n  timeZone: Europe/Atlantis\n"
        "  jobTemplate: {spec: {template: {spec: {restartPolicy: Never,"
        " containers: [{name: c, image: busybox}]}}}}\n"
    )
    out = await run_mixctl(cp.address, "apply", "-f", str(bad), expect=1)
    assert "document 1" in out and "CronJob/typo" in out and "Traceback" not in out
    assert "spec.schedule:" in out and 'spec.timeZone: unknown time zone "Europe/Atlantis"' in out
    assert not (await api.list("CronJob", namespace="default"))[0]

    await api.create(cronjob("nightly", "sleep 3600", schedule="30 2 * * *", timeZone="Europe/Berlin"))
    clock.forward(26 * 3600)
    await eventually(lambda: _has_jobs_count(api, "nightly", 1), what="the nightly run")
    [job] = await _names(api, "nightly")
    text = await run_mixctl(cp.address, "describe", "cronjob", "nightly")
    for want in ("Schedule:", "30 2 * * *", "Time Zone:", "Europe/Berlin", "Concurrency Policy:",
                 "Successful Job History Limit: 3", "Active Jobs:", job, "SuccessfulCreate"):
        assert want in text, (want, text)
    stamp = (await api.get("Job", job, "default"))["metadata"]["annotations"][batch.SCHEDULED_AT]
    assert stamp.endswith(("T02:30:00+01:00", "T02:30:00+02:00")), stamp

    out = await run_mixctl(cp.address, "create", "job", "by-hand", "--from=cronjob/nightly")
    assert "by-hand created" in out
    made = await api.get("Job", "by-hand", "default")
    assert made["metadata"]["annotations"][batch.MANUAL] == "manual"
    assert made["metadata"]["ownerReferences"][0]["name"] == "nightly"
    assert made["spec"]["template"]["spec"]["containers"][0]["command"] == ["sh", "-c", "sleep 3600"]
    out = await run_mixctl(cp.address, "create", "job", "x", "--from=deployment/nightly", expect=1)
    assert "must be an existing cronjob" in out and "Traceback" not in out
    out = await run_mixctl(cp.address, "create", "job", "x", "--from=cronjob/absent", expect=1)
    assert "not found" in out and "Traceback" not in out


async def _has_jobs_count(api: Client, name: str, count: int) -> bool:
    return len(await _jobs(api, name)) == count


async def test_only_the_leader_runs_cronjobs_and_its_successor_carries_on(
    etcd_server: Any, clock: MovableClock, tmp_path: Path
) -> None:
    """Two control planes on one etcd: the minute's Job is made once; when the leader stops,
    the other one, once elected, makes the next minute's, and no run is made twice."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig
    from tests.fixtures.etcd import unique_prefix

    url = f"etcd://{etcd_server.endpoint}{unique_prefix()}"
    planes = [ControlPlane(ControlPlaneConfig(
        store_url=url, listen="127.0.0.1:0", leader_ttl=2.0, identity=f"cp-{i}",
        cronjob_clock=clock, cronjob_resync_seconds=0.1)) for i in range(2)]
    for plane in planes:
        await plane.start()
    try:
        async with Client(planes[0].address, retry_seconds=5) as api:
            await api.create(cronjob("ha", "exit 0"))
            first = _job_for("ha", clock.to_next_minute())
            await eventually(lambda: _has_jobs(api, "ha", [first]), what="the first run")
            leader = await eventually(lambda: _leader(planes), what="a leader")
            await leader.stop()
            planes.remove(leader)
        async with Client(planes[0].address, retry_seconds=5) as api:
            await eventually(lambda: _leader(planes), what="the successor elected")
            second = _job_for("ha", clock.to_next_minute())
            await eventually(lambda: _has_jobs(api, "ha", [first, second]), what="the successor's run")
            await asyncio.sleep(1.0)  # time for a wrong extra run
            assert await _names(api, "ha") == [first, second]
    finally:
        for plane in planes:
            await plane.stop()


async def _leader(planes: list[Any]) -> Any:
    return next((p for p in planes if p.is_leader), None)
