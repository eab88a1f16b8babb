"""Streams a pod's container logs from the node agent that runs it (like the API server's
proxy to the kubelet): find the pod's node, dial its ``status.daemonEndpoint``, relay."""

from __future__ import annotations

from typing import AsyncIterator

import grpc

from mixfleet.controlplane.access.endpoint import EndpointError, dial_target
from mixfleet.controlplane.agents import channel as agent_channel
from mixfleet.controlplane.registry import Registry, RegistryError
from mixfleet.pki.material import TLSMaterial
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc


class LogsUnavailableError(RegistryError):
    pass


class LogProxy:
    def __init__(self, registry: Registry, *, tls: TLSMaterial | None = None) -> None:
        self.registry = registry
        self.tls = tls  # the control plane's client certificate for agents; None: plaintext

    async def stream(self, request: pb.LogsRequest) -> AsyncIterator[bytes]:
        pod = await self.registry.get("Pod", request.pod, request.namespace)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise LogsUnavailableError(
                f'pod "{request.pod}" is not scheduled yet: no logs to show'
            )
        node = await self.registry.get("Node", node_name)
        # Only the address the node itself wrote, checked when written (access/endpoint.py),
        # an IP literal: nothing here resolves a name or follows a redirect.
        try:
            endpoint = dial_target(node)
        except EndpointError as e:
            raise LogsUnavailableError(f'node "{node_name}" does not serve logs ({e})') from None
        async with agent_channel(endpoint, node_name, self.tls) as channel:
            try:
                call = pb_grpc.NodeAgentStub(channel).Logs(
                    request, timeout=None if request.follow else 60.0
                )
                async for chunk in call:
                    yield chunk.data
            except grpc.RpcError as e:
                raise LogsUnavailableError(
                    f'node "{node_name}" at {endpoint}: {e.details() or e.code().name}'
                ) from e
