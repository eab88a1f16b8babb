"""Several `mixfleet controlplane` processes on one etcd, and who leads them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.fixtures.controlplane import ControlPlaneProcess, start_controlplane_process

# Caches hand out frozen objects here (also in control-plane processes started from here):
# a reader that changes a shared object instead of a copy fails (controlplane/objects.py).
os.environ.setdefault("MIXFLEET_FROZEN_CACHES", "1")

HA_FLAGS = ("--leader-ttl", "2", "--node-monitor-grace", "30", "--pod-eviction-timeout", "5")


def leaders(cp: ControlPlaneProcess) -> int:
    """How many times this replica has been elected (from its JSON log)."""
    n = 0
    for line in cp.logs().splitlines():
        try:
            if json.loads(line).get("event") == "leader.elected":
                n += 1
        except ValueError:
            continue
    return n


def current_leader(cps: list[ControlPlaneProcess]) -> ControlPlaneProcess | None:
    alive = [cp for cp in cps if cp.proc.poll() is None and leaders(cp)]
    return alive[0] if len(alive) == 1 else None


class Replicas:
    def __init__(self, workdir: Path, store_url: str) -> None:
        self.workdir, self.store_url = workdir, store_url
        self.procs: list[ControlPlaneProcess] = []

    def start(self, n: int, *extra: str) -> list[ControlPlaneProcess]:
        for i in range(n):
            self.procs.append(start_controlplane_process(
                self.workdir, self.store_url, "--identity", f"cp{len(self.procs)}", *HA_FLAGS,
                *extra, name=f"cp{len(self.procs)}"))
        return self.procs

    def stop(self) -> None:
        for cp in self.procs:
            cp.stop()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    """Start replicas with ``replicas.start(n)`` once the store URL is set."""
    r = Replicas(tmp_path, "")
    try:
        yield r
    finally:
        r.stop()
