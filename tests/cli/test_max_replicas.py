"""mixctl against a control plane started with --max-replicas: too many replicas is a
clear refusal, non-zero exit, no traceback, nothing applied."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.cli.conftest import Mixctl
from tests.controllers.conftest import deployment
from tests.fixtures.controlplane import ControlPlaneProcess, start_controlplane_process


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlaneProcess]:
    work = tmp_path_factory.mktemp("cp-limit")
    proc = start_controlplane_process(work, f"sqlite:///{work / 'state.db'}", "--max-replicas", "50")
    try:
        yield proc
    finally:
        proc.stop()


def test_apply_of_too_many_replicas_is_refused(mixctl: Mixctl, tmp_path: Path) -> None:
    """The file's Deployment asks for 1,000,000,000 replicas: the error names the field and
    the limit, and nothing of the file is applied."""
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "limits-apply"}},
        {**deployment("huge", replicas=1_000_000_000), "metadata": {"name": "huge", "namespace": "limits-apply"}},
    ]))
    r = mixctl("apply", "-f", str(path))
    assert r.returncode != 0
    assert ("spec.replicas: 1000000000 is above the limit of 50 replicas per workload "
            "(--max-replicas)") in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "limits-apply" not in mixctl("get", "namespaces").stdout


def test_scale_above_the_limit_is_refused(mixctl: Mixctl, tmp_path: Path) -> None:
    """`mixctl scale --replicas 51` fails with the limit named; the Deployment keeps its count."""
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({**deployment("small", replicas=0)}))
    assert mixctl("apply", "-f", str(path)).returncode == 0
    r = mixctl("scale", "deployment", "small", "--replicas", "51")
    assert r.returncode != 0
    assert "spec.replicas: 51 is above the limit of 50 replicas per workload (--max-replicas)" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    r = mixctl("get", "deployment", "small", "-o", "yaml")
    assert yaml.safe_load(r.stdout)["spec"]["replicas"] == 0
    assert mixctl("scale", "deployment", "small", "--replicas", "50").returncode == 0
