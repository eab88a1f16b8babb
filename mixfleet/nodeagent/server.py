"""The NodeAgent gRPC service: streams container logs to the control plane's Logs proxy.
A thin adapter over ``nodeagent.logs`` and the engine; its address is the Node's
``status.daemonEndpoint``."""

from __future__ import annotations

from typing import Any, AsyncIterator, Mapping

import grpc

from mixfleet.nodeagent.engines.base import Engine, EngineError
from mixfleet.nodeagent.logs import NoContainerError, find_container
from mixfleet.nodeagent.podspec import LABEL_NODE, MANAGED
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.util import log

_log = log.get("nodeagent.server")


class NodeAgentServicer(pb_grpc.NodeAgentServicer):
    def __init__(self, engine: Engine, *, labels: Mapping[str, str] = MANAGED) -> None:
        self.engine = engine
        self.labels = labels  # which containers are this agent's (its node label)

    async def Logs(self, request: pb.LogsRequest, context: Any) -> AsyncIterator[pb.LogChunk]:
        try:
            c = await find_container(
                self.engine,
                namespace=request.namespace,
                pod=request.pod,
                container=request.container,
                labels=self.labels,
            )
            # proto3 cannot tell 0 from unset: 0 and -1 both mean all lines.
            tail = request.tail_lines if request.tail_lines > 0 else -1
            async for data in self.engine.logs(c.id, follow=request.follow, tail=tail):
                yield pb.LogChunk(data=data)
        except NoContainerError as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except EngineError as e:
            _log.warning("logs.failed", pod=request.pod, error=e.message)
            await context.abort(grpc.StatusCode.UNAVAILABLE, e.message)


async def start_agent_server(
    engine: Engine, listen: str = "127.0.0.1:0", *, node_name: str = ""
) -> tuple[grpc.aio.Server, int]:
    """Serve NodeAgent on ``listen`` (port 0 picks one); returns (server, port)."""
    server = grpc.aio.server()
    labels = {**MANAGED, LABEL_NODE: node_name} if node_name else MANAGED
    pb_grpc.add_NodeAgentServicer_to_server(NodeAgentServicer(engine, labels=labels), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    _log.info("agent_server.started", listen=listen, port=port)
    return server, port
