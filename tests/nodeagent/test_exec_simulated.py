"""`exec` through the control plane to the agent of a simulated Windows node: the simulated
shell's output and exit code, stdin, and the refusals for pods that cannot run a command."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import pytest

from mixfleet.client import APIError, ExecInput, InvalidError, NotFoundError
from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.engines.simulated import SimulatedEngine
from mixfleet.nodeagent.runner import run_node
from tests.nodeagent.builders import eventually
from tests.nodeagent.test_agent import FAST

SERVERCORE = "mcr.microsoft.com/windows/servercore:ltsc2022"
NODE = "win-exec"


def windows_pod(name: str, *, node: str = NODE, command: list[str] | None = None, **security: Any) -> dict:
    container: dict[str, Any] = {"name": "app", "image": SERVERCORE, "command": command or ["ping", "-t", "localhost"]}
    if security:
        container["securityContext"] = security
    spec: dict[str, Any] = {
        "os": {"name": "windows"},
        "restartPolicy": "Never",
        "tolerations": [{"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}],
        "containers": [container],
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.fixture
async def engine(client: Any) -> AsyncIterator[SimulatedEngine]:
    """A simulated Windows Server 2022 node with its agent and NodeAgent service."""
    eng = SimulatedEngine(build=20348, hostname="WIN-EXEC", images=[SERVERCORE])
    task = asyncio.create_task(run_node(client, eng, NODE, facts=eng.host_facts(), config=AgentConfig(**FAST)))
    yield eng
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def phase(client: Any, name: str, want: str) -> dict | None:
    p = await client.get("Pod", name, "default")
    return p if (p.get("status") or {}).get("phase") == want else None


async def run(client: Any, pod: str, command: list[str], stdin: list[bytes] | None = None) -> tuple[bytes, bytes, int]:
    async def inputs() -> AsyncIterator[ExecInput]:
        for chunk in stdin or ():
            yield ExecInput(stdin=chunk)
        yield ExecInput(close_stdin=True)

    out, err, code = b"", b"", -1
    async for o in client.exec("default", pod, command, inputs=inputs() if stdin is not None else None):
        out, err = out + o.stdout, err + o.stderr
        code = o.exit_code if o.exit_code is not None else code
    return out, err, code


async def test_exec_on_a_simulated_windows_node(client, engine):
    """whoami shows the image's user; the shell's output and exit code come back."""
    await client.create(windows_pod("win"))
    await eventually(lambda: phase(client, "win", "Running"))
    assert await run(client, "win", ["cmd", "/c", "whoami"]) == (b"user manager\\containeradministrator\r\n", b"", 0)
    assert await run(client, "win", ["cmd", "/c", "echo hi & exit 3"]) == (b"hi\r\n", b"", 3)
    # Several writes, the session ended before the last is read: all of it, then the end.
    assert await run(client, "win", ["cmd", "/c", "echo a & echo b & hostname"]) == (
        b"a\r\nb\r\nWIN-EXEC\r\n", b"", 0)
    out, err, code = await run(client, "win", ["nosuch.exe"])
    assert code == 9009 and b"'nosuch.exe' is not recognized" in err


async def test_exec_refused_for_pods_that_do_not_run(client, engine):
    """A pod with no node, a completed pod, an unknown container, an empty command: each
    refused with its reason before anything runs."""
    await client.create(windows_pod("nowhere", node="", command=["ping"]))
    with pytest.raises(APIError, match="does not have a host assigned|is not running: current phase is Pending"):
        await run(client, "nowhere", ["whoami"])
    await client.create(windows_pod("done", command=["cmd", "/c", "exit 0"]))
    await eventually(lambda: phase(client, "done", "Succeeded"))
    with pytest.raises(APIError, match="cannot exec into a container in a completed pod; current phase is Succeeded"):
        await run(client, "done", ["whoami"])
    await client.create(windows_pod("up"))
    await eventually(lambda: phase(client, "up", "Running"))
    with pytest.raises(NotFoundError, match=r'container not found \("web"\)'):
        await anext(aiter(client.exec("default", "up", ["whoami"], container="web")))
    with pytest.raises(InvalidError, match="at least one command"):
        await run(client, "up", [])
