"""Running one node: the NodeAgent gRPC service (logs) and the Agent, wired together so the
Node advertises the service's address. What `mixfleet agent`, `mixfleet dev` and hollow
nodes call."""

from __future__ import annotations

import dataclasses

from mixfleet.client import Client
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.engines.base import Engine
from mixfleet.nodeagent.facts import HostFacts
from mixfleet.nodeagent.server import start_agent_server

_STOP_GRACE_SECONDS = 2.0


async def run_node(
    client: Client,
    engine: Engine,
    node_name: str,
    *,
    listen: str = "127.0.0.1:0",
    advertise_host: str = "127.0.0.1",
    facts: HostFacts | None = None,
    config: AgentConfig = AgentConfig(),
) -> None:
    """Serve logs on ``listen`` and run the agent until cancelled. The Node's
    ``status.daemonEndpoint`` is ``advertise_host:<bound port>``."""
    server, port = await start_agent_server(engine, listen, node_name=node_name)
    try:
        config = dataclasses.replace(config, daemon_endpoint=f"{advertise_host}:{port}")
        await Agent(client, engine, node_name, facts=facts, config=config).run()
    finally:
        await server.stop(_STOP_GRACE_SECONDS)
