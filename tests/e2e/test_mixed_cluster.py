"""A mixed cluster on one machine, driven as a user would: `mixfleet dev` with one real
Linux node (a real dockerd) and simulated Windows nodes of builds 17763, 20348 and 26100
(Hyper-V capable), and `mixctl` applying manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]

MANIFESTS = """
apiVersion: v1
kind: Pod
metadata: {name: linux-app}
spec:
  containers:
  - {name: app, image: mixfleet/busybox:latest, command: [sleep, "3600"],
     resources: {requests: {cpu: 100m, memory: 32Mi}, limits: {memory: 64Mi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: win2019-process}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  platform: {isolation: process, osVersion: 10.0.17763.6189}
  containers: [{name: app, image: "mcr.microsoft.com/windows/servercore:ltsc2019"}]
---
apiVersion: v1
kind: Pod
metadata: {name: win2022-auto}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  platform: {isolation: auto}
  containers: [{name: app, image: "mcr.microsoft.com/windows/servercore:ltsc2022"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: win2019-hyperv
  annotations: {experimental.windows.kubernetes.io/isolation-type: hyperv}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  platform: {osVersion: 10.0.17763.6189}
  containers: [{name: app, image: "mcr.microsoft.com/windows/nanoserver:ltsc2019"}]
---
apiVersion: v1
kind: Pod
metadata: {name: win1903-impossible}
spec:
  nodeSelector: {kubernetes.io/os: windows}
  tolerations: [{key: os, value: windows, effect: NoSchedule}]
  platform: {isolation: process, osVersion: 10.0.18362.1256}
  containers: [{name: app, image: "mcr.microsoft.com/windows/servercore:1903"}]
"""


def _mixctl(server: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mixfleet.mixctl", "--server", server, *args],
        capture_output=True, text=True, timeout=60, check=check, cwd=REPO,
    )


def _start_dev(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    port_file, log = tmp_path / "port", tmp_path / "dev.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixfleet", "dev", "--log-format", "json",
         "--store", f"sqlite:///{tmp_path / 'dev.db'}", "--listen", "127.0.0.1:0",
         "--port-file", str(port_file), "--heartbeat-interval", "1", *extra],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"mixfleet dev did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc, f"127.0.0.1:{port_file.read_text()}", log


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _pods(server: str) -> dict[str, dict[str, Any]]:
    out = _mixctl(server, "get", "pods", "-o", "json").stdout
    return {p["metadata"]["name"]: p for p in json.loads(out)["items"]}


def _wait(server: str, ready, timeout: float = 60) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        pods = _pods(server)
        if ready(pods):
            return pods
        if time.monotonic() > deadline:
            raise AssertionError(json.dumps({n: (p["spec"].get("nodeName"), p.get("status")) for n, p in pods.items()}, indent=1))
        time.sleep(0.3)


@pytest.fixture
def mixed_cluster(dockerd, tmp_path: Path) -> Iterator[str]:
    proc, server, _ = _start_dev(
        tmp_path, "--docker-host", dockerd.socket_url, "--node-name", "linux-1",
        "--simulate", "windows/17763", "--simulate", "windows/20348",
        "--simulate", "windows/26100+hyperv",
    )
    try:
        yield server
    finally:
        _stop(proc)


def test_every_pod_lands_on_a_host_that_can_run_it(mixed_cluster: str, dockerd, tmp_path: Path) -> None:
    """Each workload runs where its OS, build and isolation fit; the impossible one is refused
    with the reasons summed over all four nodes."""
    server = mixed_cluster
    _wait_nodes = time.monotonic() + 30
    while len(json.loads(_mixctl(server, "get", "nodes", "-o", "json").stdout)["items"]) < 4:
        assert time.monotonic() < _wait_nodes, "nodes did not register"
        time.sleep(0.2)
    (tmp_path / "mixed.yaml").write_text(MANIFESTS)
    _mixctl(server, "apply", "-f", str(tmp_path / "mixed.yaml"))
    running = ("linux-app", "win2019-process", "win2022-auto", "win2019-hyperv")
    pods = _wait(server, lambda ps: all(ps[n].get("status", {}).get("phase") == "Running" for n in running))
    where = {n: (pods[n]["spec"]["nodeName"], pods[n]["spec"]["binding"].get("isolation")) for n in running}
    assert where["linux-app"] == ("linux-1", None)
    assert where["win2019-process"] == ("sim-windows-17763-1", "process")
    assert where["win2022-auto"][1] == "process" and where["win2022-auto"][0] in ("sim-windows-20348-1", "sim-windows-26100-hv-1")
    assert where["win2019-hyperv"] == ("sim-windows-26100-hv-1", "hyperv")
    assert pods["win2019-hyperv"]["status"]["isolation"] == "hyperv"
    # The Linux pod is a real container with its memory limit.
    [c] = dockerd.client.containers.list(
        filters={"label": ["mixfleet.io/pod-name=linux-app", "mixfleet.io/container-name=app"]}
    )
    assert c.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    impossible = pods["win1903-impossible"]
    cond = next(c for c in impossible["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["message"].startswith("0/4 nodes are available: ")
    assert "18362" in cond["message"] and "pod needs windows" in cond["message"]
    described = _mixctl(server, "describe", "pod", "win1903-impossible").stdout
    assert cond["message"] in described and "FailedScheduling" in described


def test_dev_without_docker_runs_simulated_nodes_only(tmp_path: Path) -> None:
    """With no engine to reach or start, `mixfleet dev` says so and runs simulated nodes."""
    env = {"MIXFLEET_DOCKERD": "/nonexistent/dockerd"}  # as on a host without Docker installed
    proc, server, log = _start_dev(
        tmp_path, "--docker-host", f"unix://{tmp_path}/none.sock", "--simulate", "linux/5.15x2", env=env
    )
    try:
        deadline = time.monotonic() + 30
        names: list[str] = []
        while len(names) < 2 and time.monotonic() < deadline:
            names = [n["metadata"]["name"] for n in json.loads(_mixctl(server, "get", "nodes", "-o", "json").stdout)["items"]]
            time.sleep(0.2)
    finally:
        _stop(proc)
    assert sorted(names) == ["sim-linux-5.15-1", "sim-linux-5.15-2"]
    assert "simulated nodes only" in log.read_text()
