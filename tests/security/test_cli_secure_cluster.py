"""A production cluster set up as the README says, with the commands a user types: `mixfleet
certs init`, a TLS `mixfleet controlplane`, `mixfleet certs admin` and a mixctl context with
the certificate, `mixfleet token create`, `mixfleet agent --join --ca-hash`, `mixfleet certs
revoke`; and the refusals: no certificates and no --insecure, a wrong CA hash, --insecure
beyond loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.fixtures.controlplane import REPO, ControlPlaneProcess, start_controlplane_process
from tests.fixtures.etcd import free_port


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def _ready_nodes(listing: str) -> list[str]:
    if not listing.strip():
        return []
    data = json.loads(listing)
    items = data.get("items", [data]) if isinstance(data, dict) else data
    return [n["metadata"]["name"] for n in items
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (n.get("status") or {}).get("conditions") or [])]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ControlPlaneProcess, Path, str, int]]:
    """certs init, then a TLS control plane: (process, pki dir, CA hash, token port)."""
    pki = tmp_path / "pki"
    init = _run("mixfleet", "certs", "init", "--dir", str(pki), "--san", "127.0.0.1")
    assert init.returncode == 0, init.stderr
    ca_hash = next(line.split(": ")[1] for line in init.stdout.splitlines() if "discovery hash" in line)
    token_port = free_port()
    cp = start_controlplane_process(
        tmp_path, f"sqlite:///{tmp_path / 'state.db'}", "--pki-dir", str(pki),
        "--token-listen", f"127.0.0.1:{token_port}",
    )
    try:
        yield cp, pki, ca_hash, token_port
    finally:
        cp.stop()


def test_certs_init_writes_private_keys_and_never_overwrites(tmp_path: Path) -> None:
    """Keys are 0600, certificates 0644; a second init refuses and changes nothing."""
    pki = tmp_path / "pki"
    assert _run("mixfleet", "certs", "init", "--dir", str(pki), "--san", "127.0.0.1").returncode == 0
    for key in ("ca.key", "server.key", "controlplane-client.key"):
        assert _mode(pki / key) == 0o600, key
    assert _mode(pki / "ca.crt") == 0o644
    before = (pki / "ca.key").read_bytes()
    again = _run("mixfleet", "certs", "init", "--dir", str(pki), "--san", "127.0.0.1")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr and "Traceback" not in again.stderr
    assert (pki / "ca.key").read_bytes() == before


def test_controlplane_without_certificates_or_insecure_refuses_to_start(tmp_path: Path) -> None:
    """One clear line naming the missing files, `mixfleet certs init` and --insecure."""
    out = _run("mixfleet", "controlplane", "--store", f"sqlite:///{tmp_path / 's.db'}",
               "--listen", "127.0.0.1:0", "--pki-dir", str(tmp_path / "nothing"), timeout=30)
    assert out.returncode == 1
    assert "no TLS certificates in" in out.stderr and "mixfleet certs init" in out.stderr
    assert "--insecure" in out.stderr and "Traceback" not in out.stderr


def test_insecure_binds_loopback_only_and_says_so(tmp_path: Path) -> None:
    """--insecure with --listen 0.0.0.0: served on 127.0.0.1, said on stderr and logged."""
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 's.db'}", "--insecure",
                                    "--listen", "0.0.0.0:0")
    try:
        log = cp.logs()
        assert "serving PLAINTEXT without authentication on 127.0.0.1:0 (loopback only)" in log
        events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(e["event"] == "server.insecure" and e["asked"] == "0.0.0.0:0" for e in events)
        assert any(e["event"] == "server.started" and e["listen"] == "127.0.0.1:0" for e in events)
    finally:
        cp.stop()


def test_a_secure_cluster_from_the_command_line(
    cluster: tuple[ControlPlaneProcess, Path, str, int], tmp_path: Path
) -> None:
    """Admin certificate in a mixctl context (config 0600) works; a node joins with a token
    and the CA hash and becomes Ready; a wrong hash is refused; a revoked admin is refused."""
    cp, pki, ca_hash, token_port = cluster
    config = tmp_path / "mixctl-config"
    env = {"MIXCTL_CONFIG": str(config), "MIXFLEET_SERVER": ""}
    admin = _run("mixfleet", "certs", "admin", "--dir", str(pki), "--name", "alice", "--out", str(tmp_path / "alice"))
    assert admin.returncode == 0, admin.stderr
    assert _mode(tmp_path / "alice.key") == 0o600
    setc = _run("mixfleet.mixctl", "config", "set-context", "prod", "--server", cp.address,
                "--certificate-authority", str(pki / "ca.crt"), "--client-certificate",
                str(tmp_path / "alice.crt"), "--client-key", str(tmp_path / "alice.key"), env=env)
    assert setc.returncode == 0, setc.stderr
    assert _mode(config) == 0o600
    assert "namespace/default" in _run("mixfleet.mixctl", "get", "ns", "-o", "name", env=env).stdout
    plain = _run("mixfleet.mixctl", "--server", cp.address, "get", "ns", env={"MIXCTL_CONFIG": str(tmp_path / "none")})
    assert plain.returncode == 1 and "Traceback" not in plain.stderr

    store = f"sqlite:///{tmp_path / 'state.db'}"
    token = _run("mixfleet", "token", "create", "--store", store, "--ttl", "10m")
    assert token.returncode == 0, token.stderr
    join = ["mixfleet", "agent", "--server", cp.address, "--bootstrap-server", f"127.0.0.1:{token_port}",
            "--no-docker", "--simulate", "linux/6.1:name=joined", "--heartbeat-interval", "1",
            "--cert-dir", str(tmp_path / "node-pki"), "--join", token.stdout.strip()]
    wrong = _run(*join, "--ca-hash", "sha256:" + "ab" * 32, timeout=60)
    assert wrong.returncode == 1 and "refusing to join" in wrong.stderr and "Traceback" not in wrong.stderr
    agent = subprocess.Popen(
        [sys.executable, "-m", *join, "--ca-hash", ca_hash], stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "agent.log").open("wb"), cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not _ready_nodes(_run("mixfleet.mixctl", "get", "nodes", "-o", "json", env=env).stdout):
            assert agent.poll() is None and time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.5)
        assert _ready_nodes(_run("mixfleet.mixctl", "get", "nodes", "-o", "json", env=env).stdout) == ["joined-1"]
    finally:
        agent.terminate()
        agent.wait(20)
    assert _mode(tmp_path / "node-pki" / "joined-1" / "node.key") == 0o600

    revoke = _run("mixfleet", "certs", "revoke", "--store", store, str(tmp_path / "alice.crt"))
    assert revoke.returncode == 0 and "revoked" in revoke.stdout, revoke.stderr
    deadline = time.monotonic() + 20
    while (got := _run("mixfleet.mixctl", "get", "ns", env=env)).returncode == 0:
        assert time.monotonic() < deadline, "the revoked certificate was still served"
        time.sleep(0.5)
    assert "revoked" in got.stderr and "Traceback" not in got.stderr
