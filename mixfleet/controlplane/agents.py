"""The one place the control plane dials a node agent (like the API server's proxy to the
kubelet, for logs and exec): a channel to the address the Node registered as
``status.daemonEndpoint`` (which only the node itself may set, naming its own address:
access/endpoint.py), and to no other; over TLS the agent must prove it is that node.

    AgentError (RegistryError)
    ├── NodeNotServingError   the Node has no endpoint (not up yet, or a hollow node)
    └── AgentUnavailableError the agent cannot be reached at its endpoint (UNAVAILABLE)
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

import grpc

from mixfleet.controlplane.access.endpoint import EndpointError, dial_target
from mixfleet.controlplane.registry import Registry, RegistryError
from mixfleet.pki.material import TLSMaterial

# A proxied exec may be quiet for hours: pings tell a dead agent from a quiet one (the
# agent's server allows pings this often: nodeagent/server.py).
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
)


class AgentError(RegistryError):
    pass


class NodeNotServingError(AgentError):
    pass


class AgentUnavailableError(AgentError):
    pass


def channel(endpoint: str, node_name: str, tls: TLSMaterial | None) -> grpc.aio.Channel:
    """A channel to node ``node_name``'s agent at ``endpoint``. Over TLS the agent must
    present a certificate the cluster CA issued for that node name (checked as the TLS
    server name), so an endpoint that is not that node's agent is never talked to past the
    handshake, and we present the control plane's client certificate."""
    if tls is None:
        return grpc.aio.insecure_channel(endpoint, options=KEEPALIVE_OPTIONS)
    creds = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert)
    return grpc.aio.secure_channel(
        endpoint, creds, options=(*KEEPALIVE_OPTIONS, ("grpc.ssl_target_name_override", node_name))
    )


async def endpoint_of(registry: Registry, node_name: str) -> str:
    """The address to dial for ``node_name``: only the one the node itself wrote, checked
    when written (access/endpoint.py), an IP literal: nothing here resolves a name."""
    node = await registry.get("Node", node_name)
    try:
        return dial_target(node)
    except EndpointError as e:
        raise NodeNotServingError(f'node "{node_name}" does not serve logs or exec ({e})') from None


@contextlib.asynccontextmanager
async def agent_channel(
    registry: Registry, node_name: str, tls: TLSMaterial | None
) -> AsyncIterator[tuple[grpc.aio.Channel, str]]:
    """(channel, endpoint) to ``node_name``'s agent. Not waited on: a call fails at once
    with gRPC's reason when the agent refuses the connection or fails the TLS checks, and
    after gRPC's connect timeout (20 s) when nothing answers."""
    endpoint = await endpoint_of(registry, node_name)
    async with channel(endpoint, node_name, tls) as ch:
        yield ch, endpoint


def call_failed(node_name: str, endpoint: str, err: grpc.RpcError) -> RegistryError:
    """The agent's refusal in the control plane's error tree, its words kept."""
    code, details = err.code(), err.details() or err.code().name
    if code is grpc.StatusCode.UNAVAILABLE:
        return AgentUnavailableError(f'node "{node_name}" at {endpoint}: {details}')
    return AgentCallError(code.name, details)


class AgentCallError(AgentError):
    """The agent refused; ``code`` is its gRPC status name (NOT_FOUND, FAILED_PRECONDITION)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
