"""Joining a node over real TLS on 127.0.0.1 (kubeadm join's token discovery): the CA is
found by its hash, a token buys a certificate bound to the node's name; a wrong hash, an
expired, unknown or wrong token is refused with a clear message; a joined agent's
certificate is rotated under it with no heartbeat lost, and the control plane reaches its
logs port over mutual TLS while another node cannot."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from structlog.testing import capture_logs

from mixfleet.client import AlreadyExistsError, Client, NotFoundError, UnauthenticatedError
from mixfleet.client.discovery import DiscoveryError
from mixfleet.cmd.agents import NodePlan, node_credentials
from mixfleet.controlplane import pkirecords
from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.certmanager import NodeCredentials
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.runner import run_node
from mixfleet.pki.certs import key_pem, new_key
from tests.controllers.conftest import eventually
from tests.security.conftest import PKI

HOUR = datetime.timedelta(hours=1)


async def _token(cp: Any, ttl: datetime.timedelta = HOUR, **kw: Any) -> str:
    token, _ = await pkirecords.create_token(cp.store, ttl, **kw)
    return token


async def test_a_node_joins_and_gets_a_certificate_bound_to_its_name(
    tls_controlplane: Any, pki: PKI, tmp_path: Path
) -> None:
    """Token + right CA hash: a certificate CN system:node:n1, O system:nodes, key file 0600,
    and the token is stored hashed only."""
    token = await _token(tls_controlplane)
    creds = NodeCredentials(tmp_path / "n1", "n1")
    await creds.join(tls_controlplane.token_address, token=token, ca_hash=pki.ca_hash)
    cert = creds.certificate
    assert cert is not None
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert stat.S_IMODE(os.stat(tmp_path / "n1" / "node.key").st_mode) == 0o600
    raw = b"".join(kv.value for kv in (await tls_controlplane.store.list("/pki/"))[0])
    assert token.split(".")[1].encode() not in raw and token.split(".")[0].encode() in raw
    async with Client(tls_controlplane.address, tls=creds.current, retry_seconds=1) as c:
        # The new certificate is accepted on the mutual-TLS port, as node n1 (which may read
        # Nodes, not Namespaces: controlplane/access/nodes.py).
        await c.list("Node")
        assert (await c.access_review("get", "nodes")).user == "system:node:n1"


async def test_a_wrong_ca_hash_is_refused(tls_controlplane: Any, pki: PKI, tmp_path: Path) -> None:
    """A --ca-hash that none of the presented certificates has: refused before any token is
    sent, naming both hashes."""
    token = await _token(tls_controlplane)
    wrong = "sha256:" + "0" * 64
    with pytest.raises(DiscoveryError, match="refusing to join") as err:
        await NodeCredentials(tmp_path / "n1", "n1").join(
            tls_controlplane.token_address, token=token, ca_hash=wrong
        )
    assert wrong in str(err.value) and pki.ca_hash in str(err.value)
    assert not (tmp_path / "n1").exists()


@pytest.mark.parametrize("case", ["expired", "unknown", "wrong-secret"])
async def test_a_bad_token_is_refused(tls_controlplane: Any, pki: PKI, tmp_path: Path, case: str) -> None:
    """An expired, unknown or wrong token: UNAUTHENTICATED with the reason, never the secret."""
    past = datetime.datetime.now(datetime.timezone.utc) - 2 * HOUR
    token = await _token(tls_controlplane, now=past)  # expired an hour ago
    if case != "expired":
        token = await _token(tls_controlplane)
    token_id, secret = token.split(".")
    if case == "unknown":
        token = "zzzzzz." + secret
    elif case == "wrong-secret":
        token = token_id + "." + "a" * 16
    with pytest.raises(UnauthenticatedError, match="join refused") as err:
        await NodeCredentials(tmp_path / "n1", "n1").join(
            tls_controlplane.token_address, token=token, ca_hash=pki.ca_hash
        )
    assert {"expired": "expired at", "unknown": "is unknown", "wrong-secret": "does not match"}[case] in str(err.value)
    assert token.split(".")[1] not in str(err.value)


async def test_the_certificate_is_rotated_under_a_running_agent(
    tls_controlplane: Any, pki: PKI, tmp_path: Path
) -> None:
    """Node certificates live 6 s here: the running agent renews each at 70-90% of its
    life, twice and more, and no heartbeat fails; after the first certificate has expired
    the node still heartbeats, and the control plane still reads its pods' logs port."""
    creds = NodeCredentials(tmp_path / "n1", "n1")
    await creds.join(tls_controlplane.token_address, token=await _token(tls_controlplane), ca_hash=pki.ca_hash)
    first = creds.certificate
    assert first is not None
    engine = SimulatedEngine(os="linux", hostname="n1")
    async with Client(tls_controlplane.address, tls=creds.current, retry_seconds=5) as client:
        with capture_logs() as logs:
            task = asyncio.create_task(run_node(
                client, engine, "n1", facts=engine.host_facts(), credentials=creds,
                config=AgentConfig(heartbeat_seconds=0.2, node_refresh_seconds=1.0),
            ))
            try:
                async def renewed_after_expiry() -> bool:
                    try:
                        lease = await client.get("Lease", "n1", "mixfleet-node-lease")
                    except NotFoundError:
                        return False  # not registered yet
                    renewed = datetime.datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))
                    return creds.rotations >= 2 and renewed > first.not_valid_after_utc

                await eventually(renewed_after_expiry, what="two rotations and a heartbeat after expiry", timeout=30)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    events = [e["event"] for e in logs]
    assert events.count("node.certificate_rotated") >= 2
    assert "lease.renew_failed" not in events, [e for e in logs if e["event"] == "lease.renew_failed"]
    now = creds.certificate
    assert now is not None and now.serial_number != first.serial_number


async def test_joining_as_a_ready_node_is_refused(tls_controlplane: Any, pki: PKI, tmp_path: Path) -> None:
    """As kubeadm join does: a token does not buy the name of a node that is up and Ready."""
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin:
        node = await admin.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        node["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady"}]}
        await admin.update_status(node)
    with pytest.raises(AlreadyExistsError, match='a Node named "n1" is registered and Ready'):
        await NodeCredentials(tmp_path / "n1", "n1").join(
            tls_controlplane.token_address, token=await _token(tls_controlplane), ca_hash=pki.ca_hash
        )


async def test_an_agent_whose_certificate_expired_joins_again(tls_controlplane: Any, pki: PKI, tmp_path: Path) -> None:
    """`mixfleet agent --join` with an expired certificate in --cert-dir (the agent was down
    past its end) joins again instead of failing every handshake."""
    key = new_key()
    stale = pki.ca.issue(key.public_key(), common_name="system:node:n1", orgs=("system:nodes",),
                         lifetime=datetime.timedelta(seconds=-60))
    (tmp_path / "certs" / "n1").mkdir(parents=True)
    (tmp_path / "certs" / "n1" / "node.crt").write_bytes(stale.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "certs" / "n1" / "node.key").write_bytes(key_pem(key))
    (tmp_path / "certs" / "n1" / "ca.crt").write_bytes(pki.ca.cert_pem)
    args = argparse.Namespace(cert_dir=str(tmp_path / "certs"), join=await _token(tls_controlplane),
                              ca_hash=pki.ca_hash, server=tls_controlplane.address,
                              bootstrap_server=tls_controlplane.token_address)
    creds = (await node_credentials(args, [NodePlan("n1", SimulatedEngine(os="linux", hostname="n1"), None)]))["n1"]
    assert not creds.expired() and creds.certificate is not None
    assert creds.certificate.serial_number != stale.serial_number
