"""`mixctl exec` end to end: the real mixctl process, a real control plane, a real agent on a
real dockerd (busybox), through the Exec stream of both services."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import sys
import termios
import uuid
from typing import Any, AsyncIterator

import pytest

from mixfleet.nodeagent.agent import AgentConfig
from mixfleet.nodeagent.engines.docker_engine import DockerEngine
from mixfleet.nodeagent.runner import run_node
from tests.fixtures.controlplane import REPO
from tests.nodeagent.builders import eventually
from tests.nodeagent.dockeragents import stop_and_clean
from tests.nodeagent.test_agent import FAST, IMAGE

pytestmark = pytest.mark.docker


async def mixctl(server: str, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """The real mixctl as a process: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mixfleet.mixctl", "--server", server, *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def pod(name: str, node: str, **security: Any) -> dict:
    container: dict[str, Any] = {"name": "main", "image": IMAGE, "command": ["sh", "-c", "sleep 600"]}
    if security:
        container["securityContext"] = security
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [
            container, {"name": "side", "image": IMAGE, "command": ["sh", "-c", "sleep 600"]},
        ]},
    }


@pytest.fixture
async def node(client: Any, dockerd: Any) -> AsyncIterator[str]:
    """A real agent (with its NodeAgent service) on the test dockerd; yields the node name."""
    engine = DockerEngine(base_url=dockerd.socket_url, retry_seconds=2)
    name = f"exec-{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(run_node(client, engine, name, config=AgentConfig(**FAST)))
    try:
        yield name
    finally:
        await stop_and_clean(task, engine, name)
        await engine.close()


async def running(client: Any, name: str) -> dict | None:
    p = await client.get("Pod", name, "default")
    st = p.get("status") or {}
    ok = st.get("phase") == "Running" and all(s.get("ready") for s in st.get("containerStatuses") or [{}])
    return p if ok else None


async def test_exec_prints_output_and_exits_with_the_commands_code(client, controlplane, node):
    """`mixctl exec POD -- sh -c 'echo hi; exit 3'` prints hi (stderr kept apart) and exits 3."""
    await client.create(pod("ex", node))
    await eventually(lambda: running(client, "ex"), timeout=60)
    code, out, err = await mixctl(controlplane.address, "exec", "ex", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3")
    assert (code, out) == (3, "hi\n")
    assert "oops\n" in err and "command terminated with exit code 3" in err

    # stdin piped through with -i; flags after the pod name and a command with its own flags.
    code, out, err = await mixctl(controlplane.address, "exec", "ex", "-c", "side", "-i", "--", "cat", "-",
                                  stdin=b"piped through\nline two\n")
    assert (code, out, err) == (0, "piped through\nline two\n", "")

    # -t without a terminal on stdin: kubectl's warning, then the command runs as without -t.
    code, out, err = await mixctl(controlplane.address, "exec", "ex", "-t", "--", "echo", "no tty")
    assert (code, out) == (0, "no tty\n")
    assert "Unable to use a TTY" in err


async def test_exec_refusals_name_the_problem(client, controlplane, node):
    """A container the pod lacks, a pod that does not exist, and no command are refused, exit 1."""
    await client.create(pod("ref", node))
    await eventually(lambda: running(client, "ref"), timeout=60)
    code, out, err = await mixctl(controlplane.address, "exec", "ref", "-c", "nope", "--", "true")
    assert code == 1 and out == ""
    assert 'container not found ("nope")' in err and "main, side" in err
    code, _, err = await mixctl(controlplane.address, "exec", "ghost", "--", "true")
    assert code == 1 and 'pods "ghost" not found' in err
    code, _, err = await mixctl(controlplane.address, "exec", "ref")
    assert code == 1 and "you must specify at least one command" in err
    # A command the container does not have: the engine's words and exit code, as from docker exec.
    code, out, err = await mixctl(controlplane.address, "exec", "ref", "--", "no-such-command")
    assert code == 126 and 'exec: "no-such-command": executable file not found' in out
    assert err == "command terminated with exit code 126\n"


async def test_exec_with_a_terminal_gets_one_of_the_local_terminals_size(client, controlplane, node):
    """-it on a terminal: the command runs on a tty of the local terminal's size, keys typed
    reach it, and its exit code is still mixctl's. The size is read once the command has
    printed and been answered: on Docker before 23 (API 1.41, no ConsoleSize) the first
    resize can only land once the process runs, so a command that asks at once may see 0x0,
    as with `docker exec -it` there; what is printed comes after the agent sized it."""
    await client.create(pod("tty", node))
    await eventually(lambda: running(client, "tty"), timeout=60)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))  # rows, cols
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mixfleet.mixctl", "--server", controlplane.address,
        "exec", "-it", "tty", "--", "sh", "-c", "tty; read answer; echo got $answer; stty size; exit 4",
        stdin=follower, stdout=follower, stderr=follower, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    os.close(follower)
    seen, answered = b"", False
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := await asyncio.wait_for(asyncio.to_thread(os.read, leader, 4096), 60):
            seen += chunk
            if not answered and b"\n" in seen.partition(b"/dev/pts/")[2]:
                os.write(leader, b"yes\r")  # Enter, as typed on a raw local terminal
                answered = True
    os.close(leader)
    assert await proc.wait() == 4
    text = seen.decode(errors="replace")
    assert "/dev/pts/" in text and "got yes" in text and "33 101" in text, text
    assert "command terminated with exit code 4" in text
