"""The node agent's own port (logs) over mutual TLS: the control plane reaches it with its
client certificate and checks that the agent is the node the pod is bound to; a node's
certificate, or none, cannot read logs from another agent."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any, AsyncIterator

import grpc
import pytest
import pytest_asyncio

from mixfleet.client import APIError, Client, NotFoundError
from mixfleet.controlplane import pkirecords
from mixfleet.controlplane.logs import agent_channel
from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.certmanager import NodeCredentials
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.runner import run_node
from mixfleet.pki.certs import NODES_GROUP
from mixfleet.pki.material import TLSMaterial
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from tests.controllers.conftest import eventually
from tests.security.conftest import PKI


async def _joined(cp: Any, pki: PKI, tmp_path: Path, name: str) -> NodeCredentials:
    token, _ = await pkirecords.create_token(cp.store, datetime.timedelta(hours=1))
    creds = NodeCredentials(tmp_path / name, name)
    await creds.join(cp.token_address, token=token, ca_hash=pki.ca_hash)
    return creds


@pytest_asyncio.fixture
async def agent_n1(tls_controlplane: Any, pki: PKI, tmp_path: Path) -> AsyncIterator[NodeCredentials]:
    creds = await _joined(tls_controlplane, pki, tmp_path, "n1")
    engine = SimulatedEngine(os="linux", hostname="n1")
    async with Client(tls_controlplane.address, tls=creds.current, retry_seconds=5) as client:
        task = asyncio.create_task(run_node(
            client, engine, "n1", facts=engine.host_facts(), credentials=creds,
            config=AgentConfig(heartbeat_seconds=0.5, node_refresh_seconds=1.0),
        ))
        try:
            yield creds
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _endpoint(admin: Client) -> str:
    async def published() -> str:
        try:
            node = await admin.get("Node", "n1")
        except NotFoundError:
            return ""
        return str((node.get("status") or {}).get("daemonEndpoint") or "")

    return await eventually(published, what="node n1's daemonEndpoint")


async def _agent_logs(endpoint: str, tls: TLSMaterial | None, server_name: str = "n1") -> None:
    channel = agent_channel(endpoint, server_name, tls) if tls else grpc.aio.insecure_channel(endpoint)
    async with channel:
        call = pb_grpc.NodeAgentStub(channel).Logs(pb.LogsRequest(namespace="default", pod="p"), timeout=5)
        async for _ in call:
            pass


async def test_the_control_plane_reads_logs_over_mutual_tls(tls_controlplane: Any, pki: PKI, agent_n1: Any) -> None:
    """The control plane's certificate is let in (the pod is not there: NOT_FOUND, from the
    agent itself); a node's certificate is PERMISSION_DENIED; plaintext and a certificate-less
    TLS client do not get past the handshake."""
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin:
        endpoint = await _endpoint(admin)
    from mixfleet.pki import layout

    cp_client = layout.load_server(pki.directory).agent_client
    with pytest.raises(grpc.RpcError) as err:
        await _agent_logs(endpoint, cp_client)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value
    with pytest.raises(grpc.RpcError) as err:
        await _agent_logs(endpoint, agent_n1.current)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    for tls in (None, pki.ca_only):
        with pytest.raises(grpc.RpcError) as err:
            await _agent_logs(endpoint, tls)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_an_endpoint_that_is_not_the_node_is_not_talked_to(
    tls_controlplane: Any, pki: PKI, agent_n1: Any
) -> None:
    """Dialled as node n2, n1's agent fails the TLS name check: the control plane's logs
    request for a pod on n2 whose daemonEndpoint points at n1's agent is refused. (Only n2
    itself may write that endpoint, and only naming its own address: n1's agent listens on
    the same 127.0.0.1, so the TLS name check is what stops this one.)"""
    n2_tls = pki.client("system:node:n2", (NODES_GROUP,))
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin, \
            Client(tls_controlplane.address, tls=n2_tls, retry_seconds=2) as n2_client:
        endpoint = await _endpoint(admin)
        await n2_client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"},
                                "status": {"daemonEndpoint": endpoint}})
        await admin.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                            "spec": {"nodeName": "n2", "containers": [{"name": "c", "image": "busybox"}]}})
        with pytest.raises(APIError, match=r"node \"n2\" at ") as err:
            async for _ in admin.logs("default", "p"):
                pass
        assert "Hostname Verification Check failed" in str(err.value)
