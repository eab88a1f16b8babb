"""Running one node: the NodeAgent gRPC service (logs) and the Agent, wired together so the
Node advertises the service's address. What `mixfleet agent`, `mixfleet dev` and hollow
nodes call."""

from __future__ import annotations

import dataclasses

from mixfleet.client import Client
from mixfleet.nodeagent.agent import Agent, AgentConfig
from mixfleet.nodeagent.certmanager import NodeCredentials
from mixfleet.nodeagent.engines.base import Engine
from mixfleet.nodeagent.facts import HostFacts
from mixfleet.nodeagent.server import start_agent_server
from mixfleet.util.aio import run_together

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
    credentials: NodeCredentials | None = None,
) -> None:
    """Serve logs on ``listen`` and run the agent until cancelled. The Node's
    ``status.daemonEndpoint`` is ``advertise_host:<bound port>``. With the node's
    ``credentials`` (its joined certificate, which ``client`` uses too) the logs port is
    mutual TLS, and the certificate is rotated before it expires, in the client and the
    server alike."""
    server, port = await start_agent_server(engine, listen, node_name=node_name, credentials=credentials)
    try:
        config = dataclasses.replace(
            config,
            daemon_endpoint=f"{advertise_host}:{port}",
            host_ip=config.host_ip or advertise_host,  # the node's address: the pods' hostIP
        )
        agent = Agent(client, engine, node_name, facts=facts, config=config).run()
        if credentials is None:
            await agent
        else:
            credentials.on_rotated(client.set_tls)
            await run_together(agent, credentials.rotate_forever(client.target))
    finally:
        await server.stop(_STOP_GRACE_SECONDS)
