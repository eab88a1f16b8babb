"""The per-client limits are set from `mixfleet controlplane`'s flags, and a bad value is
refused before anything starts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from mixfleet.client import APIError, Client
from tests.fixtures.controlplane import REPO, start_controlplane_process


async def _first_event(c: Client) -> None:
    async for _ in c.watch("Namespace"):
        return


async def test_max_watches_per_client_flag_limits_a_running_control_plane(tmp_path: Path) -> None:
    """`--max-watches-per-client 1`: a client's second open watch is refused naming the flag."""
    cp = start_controlplane_process(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", "--max-watches-per-client", "1")
    try:
        async with Client(cp.address, retry_seconds=5) as c:
            first = c.watch("Namespace")
            await asyncio.wait_for(first.__anext__(), 20)
            with pytest.raises(APIError, match=r"too many watches from this client: 1 open \(--max-watches-per-client"):
                await asyncio.wait_for(_first_event(c), 20)
            await first.aclose()
    finally:
        cp.stop()
    assert '"event": "watch.ended"' in cp.logs()


@pytest.mark.parametrize("flag,value,why", [
    pytest.param("--max-watches-per-client", "-1", "must be 0 or more, got -1", id="negative"),
    pytest.param("--max-requests-per-client", "x", "not a number: 'x'", id="not-a-number"),
])
def test_a_bad_limit_is_refused_naming_the_flag(tmp_path: Path, flag: str, value: str, why: str) -> None:
    """A negative or non-numeric limit exits non-zero with the flag named, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "mixfleet", "controlplane", "--store", f"sqlite:///{tmp_path / 's.db'}",
         "--listen", "127.0.0.1:0", "--insecure", flag, value],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )
    assert proc.returncode != 0
    assert f"argument {flag}: {why}" in proc.stderr
    assert "Traceback" not in proc.stderr
