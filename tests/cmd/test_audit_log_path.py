"""--audit-log-path: the audit lines of every write go to their own file of JSON lines
(mode 0600), not the control plane's log, so that node heartbeats do not drown it; "-"
keeps them in the process log."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from mixfleet.client import Client
from tests.fixtures.controlplane import start_controlplane_process

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "audited", "namespace": "default"},
             "data": {"k": "value-not-to-log"}}


async def test_audit_lines_go_to_the_audit_file_not_the_process_log(tmp_path: Path) -> None:
    audit_file = tmp_path / "audit" / "audit.log"
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 'state.db'}",
                                    "--audit-log-path", str(audit_file))
    try:
        async with Client(cp.address) as c:
            await c.apply([CONFIGMAP])
            await c.delete("ConfigMap", "audited", "default")
    finally:
        cp.stop()
    lines = [json.loads(line) for line in audit_file.read_text().splitlines()]
    mine = [(e["verb"], e["kind"], e["name"], e["outcome"]) for e in lines if e["name"] == "audited"]
    assert ("delete", "ConfigMap", "audited", "allowed") in mine
    assert any(v in ("apply", "create") for v, *_ in mine), mine
    assert all(e["event"] == "audit" and e["user"] and e["timestamp"] for e in lines)
    assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600
    text = audit_file.read_text() + cp.log_path.read_text()
    assert "value-not-to-log" not in text
    assert not _audit_lines(cp.log_path)


async def test_the_default_keeps_audit_lines_in_the_process_log(tmp_path: Path) -> None:
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    try:
        async with Client(cp.address) as c:
            await c.apply([CONFIGMAP])
    finally:
        cp.stop()
    assert [e for e in _audit_lines(cp.log_path) if e["name"] == "audited"]


def _audit_lines(process_log: Path) -> list[dict[str, object]]:
    """The audit events of a control plane's own log (JSON lines; other lines skipped)."""
    events = []
    for line in process_log.read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and e.get("event") == "audit":
            events.append(e)
    return events
