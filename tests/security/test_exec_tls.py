"""`exec` on a cluster over TLS: through the control plane to an agent that joined with a
token (mutual TLS on both hops), authorised as Kubernetes authorises it (create pods/exec:
edit and admin may, view may not), and only ever to the node's own agent: a node's
certificate cannot exec on an agent, and an endpoint that is not the node's agent is not
talked to past the TLS handshake."""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc
import pytest

from mixfleet.client import APIError, Client, ExecInput, PermissionDeniedError
from mixfleet.controlplane.access import tokens
from mixfleet.controlplane.agents import channel as agent_channel
from mixfleet.pki.certs import NODES_GROUP
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from tests.controllers.conftest import eventually
from tests.security.conftest import PKI
from tests.security.test_access import binding
from tests.security.test_agent_port import _endpoint, agent_n1  # noqa: F401  (fixture)


def pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}


async def run(client: Client, name: str, command: list[str], stdin: bytes | None = None) -> tuple[bytes, int]:
    async def inputs() -> AsyncIterator[ExecInput]:
        yield ExecInput(stdin=stdin or b"")
        yield ExecInput(close_stdin=True)

    out, code = b"", -1
    async for o in client.exec("default", name, command, inputs=inputs() if stdin is not None else None):
        out += o.stdout + o.stderr
        code = o.exit_code if o.exit_code is not None else code
    return out, code


async def running(admin: Client, name: str) -> dict[str, Any] | None:
    p = await admin.get("Pod", name, "default")
    return p if (p.get("status") or {}).get("phase") == "Running" else None


async def test_exec_through_a_tls_cluster_and_who_may(tls_controlplane: Any, pki: PKI, agent_n1: Any) -> None:
    """An admin's exec runs on the joined agent (stdin in, output and exit code out); an
    edit user's too; a view user is refused, naming who, the verb and the resource."""
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin:
        await admin.apply([pod("sh", "n1"), binding("eve-edit", "default", "edit", "eve"),
                           binding("val-view", "default", "view", "val")])
        await eventually(lambda: running(admin, "sh"), what="pod sh Running on n1")
        assert await run(admin, "sh", ["sh", "-c", "echo over tls; cat; exit 3"], stdin=b"typed\n") == (
            b"over tls\ntyped\n", 3)

        token_tls = pki.ca_only
        eve = Client(tls_controlplane.token_address, tls=token_tls, retry_seconds=2,
                     token=await tokens.create(tls_controlplane.store, "eve", ()))
        val = Client(tls_controlplane.token_address, tls=token_tls, retry_seconds=2,
                     token=await tokens.create(tls_controlplane.store, "val", ()))
        async with eve, val:
            assert await run(eve, "sh", ["whoami"]) == (b"root\n", 0)
            assert (await val.get("Pod", "sh", "default"))["metadata"]["name"] == "sh"  # view reads
            with pytest.raises(PermissionDeniedError) as refused:
                await run(val, "sh", ["whoami"])
            assert refused.value.message == (
                'user "val" cannot create resource "pods/exec" in namespace "default"')


async def test_a_node_certificate_cannot_exec_on_an_agent(tls_controlplane: Any, pki: PKI, agent_n1: Any) -> None:
    """Straight to n1's agent: another node's certificate, and n1's own, are refused
    (PERMISSION_DENIED: only the control plane execs there); without a client certificate
    the handshake fails."""
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin:
        await admin.create(pod("target", "n1"))
        await eventually(lambda: running(admin, "target"), what="pod target Running on n1")
        endpoint = await _endpoint(admin)

    async def agent_exec(tls: Any) -> None:
        async with agent_channel(endpoint, "n1", tls) as channel:
            start = pb.ExecStart(namespace="default", pod="target", container="c", command=["whoami"])
            call = pb_grpc.NodeAgentStub(channel).Exec(iter([pb.ExecInput(start=start)]), timeout=10)
            async for _ in call:
                pass

    # Certificates of an hour (the agent's own rotate every few seconds in this fixture).
    for tls in (pki.client("system:node:n2", (NODES_GROUP,)), pki.client("system:node:n1", (NODES_GROUP,))):
        with pytest.raises(grpc.RpcError) as err:
            await agent_exec(tls)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value
        assert "only the control plane may" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        await agent_exec(pki.ca_only)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_exec_dials_only_the_nodes_own_agent(tls_controlplane: Any, pki: PKI, agent_n1: Any) -> None:
    """Node n2 naming n1's agent as its endpoint: exec in a pod on n2 fails the TLS name
    check, so n1's agent never runs it; an endpoint that is a name, not the node's own
    IP, is refused when written, and a node with no endpoint is named as not serving exec."""
    n2_tls = pki.client("system:node:n2", (NODES_GROUP,))
    async with Client(tls_controlplane.address, tls=pki.client(), retry_seconds=2) as admin, \
            Client(tls_controlplane.address, tls=n2_tls, retry_seconds=2) as n2:
        endpoint = await _endpoint(admin)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}, "status": {}}
        await n2.create(node)
        await admin.create(pod("elsewhere", "n2"))
        admin_pod = await admin.get("Pod", "elsewhere", "default")
        admin_pod["status"] = {"phase": "Running"}
        await admin.update_status(admin_pod)
        with pytest.raises(APIError, match=r'node "n2" does not serve logs or exec \(no daemonEndpoint\)'):
            await run(admin, "elsewhere", ["whoami"])

        port = endpoint.rpartition(":")[2]
        stored = await n2.get("Node", "n2")
        stored["status"] = {"daemonEndpoint": f"localhost:{port}"}
        with pytest.raises(APIError, match="the host must be an IP address, not a name"):
            await n2.update_status(stored)
        stored["status"] = {"daemonEndpoint": endpoint}  # n1's agent, on the same 127.0.0.1
        await n2.update_status(stored)
        with pytest.raises(APIError, match=r'node "n2" at ') as err:
            await run(admin, "elsewhere", ["whoami"])
        assert "Hostname Verification Check failed" in str(err.value)
