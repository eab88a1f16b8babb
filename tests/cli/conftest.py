"""Run mixctl as a user does: a subprocess against a real control plane process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.fixtures.controlplane import (
    REPO,
    ControlPlaneProcess,
    start_controlplane_process,
)


@dataclass(frozen=True)
class Mixctl:
    """Runs ``python -m mixctl`` with a private config file and the server in the env."""

    server: str
    config: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("MIXFLEET_SERVER", "MIXCTL_CONFIG")}
        env.update(PYTHONPATH=str(REPO), MIXCTL_CONFIG=str(self.config), MIXFLEET_SERVER=self.server)
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mixfleet.mixctl", *args]

    def __call__(self, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), input=input, capture_output=True, text=True, env=self.env(**env),
            cwd=REPO, timeout=60,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.env(), cwd=REPO,
        )


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlaneProcess]:
    """One control plane process shared by a test module (tests use their own namespaces)."""
    work = tmp_path_factory.mktemp("cp")
    proc = start_controlplane_process(work, f"sqlite:///{work / 'state.db'}")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def mixctl(cp: ControlPlaneProcess, tmp_path: Path) -> Mixctl:
    return Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
