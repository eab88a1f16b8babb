"""``mixctl exec`` through the control plane (the API server's exec subresource): check the
pod can run the command, in kubectl's and the API server's words, then relay the
bidirectional stream to the agent of the pod's node (dialled in controlplane/agents.py).

    ExecRefusedError (RegistryError): FAILED_PRECONDITION, the pod cannot run it now
    ExecNotFoundError (RegistryError): NOT_FOUND, no such container in the pod
    ExecInvalidError (RegistryError):  INVALID_ARGUMENT, no command, or no start message
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import grpc

from mixfleet.api import pods
from mixfleet.controlplane import agents
from mixfleet.controlplane.registry import Registry, RegistryError
from mixfleet.pki.material import TLSMaterial
from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from mixfleet.store.base import UnavailableError
from mixfleet.util import log
from mixfleet.util.aio import within

_log = log.get("exec")
_LOOKUP_SECONDS = 30.0
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


class ExecRefusedError(RegistryError):
    pass


class ExecNotFoundError(RegistryError):
    pass


class ExecInvalidError(RegistryError):
    pass


def exec_container(pod: Mapping[str, Any], asked: str) -> str:
    """The container to run in: the one asked for, else the pod's default (its
    ``kubectl.kubernetes.io/default-container`` annotation, else its first container).
    Raises when the pod cannot run a command now."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    name = meta.get("name")
    names = [str(c.get("name")) for c in spec.get("containers") or ()]
    default = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    container = asked or (default if default in names else names[0] if names else "")
    if container not in names:
        raise ExecNotFoundError(
            f'container not found ("{container}"): pod "{name}" has containers {", ".join(names)}'
        )
    phase = pods.phase(pod)
    if phase in ("Succeeded", "Failed"):
        raise ExecRefusedError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    if not spec.get("nodeName"):
        raise ExecRefusedError(f'pod "{name}" does not have a host assigned: it is not running yet')
    if phase != "Running":
        raise ExecRefusedError(f'pod "{name}" is not running: current phase is {phase}')
    return container


# Whether the caller may exec in (namespace, pod); raises when not (the server's access guard).
Authorize = Callable[[str, str], Awaitable[object]]


class ExecProxy:
    def __init__(self, registry: Registry, *, tls: TLSMaterial | None = None) -> None:
        self.registry = registry
        self.tls = tls  # the control plane's client certificate for agents; None: plaintext

    async def stream(
        self, inputs: AsyncIterator[pb.ExecInput], authorize: Authorize
    ) -> AsyncIterator[pb.ExecOutput]:
        """Relay one exec; ``authorize`` is asked once the start message names the pod,
        before anything about it is read."""
        try:
            first = await within(anext(aiter(inputs), None), _LOOKUP_SECONDS)
        except TimeoutError:
            raise ExecInvalidError(f"no start message within {_LOOKUP_SECONDS:.0f}s") from None
        if first is None or first.WhichOneof("input") != "start":
            raise ExecInvalidError("the first message of an exec must be its start")
        start = first.start
        if not start.command:
            raise ExecInvalidError("you must specify at least one command for the container")
        namespace = start.namespace or "default"
        await authorize(namespace, start.pod)
        try:
            pod = await within(self.registry.get("Pod", start.pod, namespace), _LOOKUP_SECONDS)
        except TimeoutError:
            raise UnavailableError(f"no answer within {_LOOKUP_SECONDS:.0f}s") from None
        container = exec_container(pod, start.container)
        node = str(pod["spec"]["nodeName"])
        forward = pb.ExecInput(start=pb.ExecStart(
            namespace=namespace, pod=start.pod, container=container, command=start.command,
            stdin=start.stdin, tty=start.tty, size=start.size,
        ))
        async with agents.agent_channel(self.registry, node, self.tls) as (channel, endpoint):
            call = pb_grpc.NodeAgentStub(channel).Exec()
            pump = asyncio.create_task(_pump(forward, inputs, call))
            _log.info("exec.proxied", pod=f"{namespace}/{start.pod}", container=container, node=node)
            try:
                async for out in call:
                    yield out
            except grpc.RpcError as e:
                raise agents.call_failed(node, endpoint, e) from e
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                    await pump
                call.cancel()


async def _pump(first: pb.ExecInput, inputs: AsyncIterator[pb.ExecInput], call: Any) -> None:
    """The client's messages to the agent, then the end of them."""
    await call.write(first)
    async for msg in inputs:
        await call.write(msg)
    await call.done_writing()
