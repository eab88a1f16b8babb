"""`mixfleet agent`/`dev` with several nodes in one process and a fixed --agent-listen port:
each node serves at an endpoint of its own (the first at the port asked for), so logs and
exec for a pod reach its own node's agent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from mixfleet.cmd.agents import run_nodes, simulated_node
from mixfleet.cmd.simspec import parse_all
from tests.controllers.conftest import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_each_node_gets_its_own_agent_endpoint(controlplane: Any, client: Any) -> None:
    port = free_port()
    nodes = [simulated_node(s) for s in parse_all(["linux/6.1x3"])]
    task = asyncio.create_task(run_nodes(controlplane.address, nodes, heartbeat=0.5, listen=f"127.0.0.1:{port}"))
    try:
        async def endpoints() -> dict[str, str] | None:
            items, _ = await client.list("Node")
            found = {n["metadata"]["name"]: (n.get("status") or {}).get("daemonEndpoint") for n in items}
            return found if len(found) == 3 and all(found.values()) else None

        found = await eventually(endpoints, what="three nodes' endpoints")
        assert len(set(found.values())) == 3, found
        assert found[nodes[0].name] == f"127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
