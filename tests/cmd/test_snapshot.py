"""A corrupt embedded database is refused at start with the way back, and `mixfleet
snapshot save/restore` is that way back: a snapshot taken from a running server, restored
over a corrupted file, brings the objects back."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.controlplane import REPO, start_controlplane_process

_NAMESPACES = 1500  # ~1.5 KB each: a db of a few MB, so its last 64 KB are pages in use


def _mixfleet(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIXFLEET_LOG_FORMAT": "json", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "mixfleet", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def _namespaces(first: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": f"team-{i}", "annotations": {"note": f"{i}-" + "x" * 1400}},
        }
        for i in range(first, first + count)
    ]


async def _populate(address: str, first: int, count: int) -> None:
    from mixfleet.client import Client

    async with Client(address, retry_seconds=10) as c:
        for start in range(first, first + count, 250):
            await c.apply(_namespaces(start, min(250, first + count - start)))


async def _names(address: str) -> set[str]:
    from mixfleet.client import Client

    async with Client(address, retry_seconds=10) as c:
        items, _ = await c.list("Namespace")
    return {i["metadata"]["name"] for i in items}


def _corrupt_tail(path: Path, *, seed: int = 9) -> None:
    """What the issue did: random bytes over the last 64 KB of the file."""
    data = random.Random(seed).randbytes(65536)
    with path.open("r+b") as f:
        f.seek(0, os.SEEK_END)
        f.seek(f.tell() - len(data))
        f.write(data)


def _start_outcome(workdir: Path, db: Path, command: tuple[str, ...] = ("controlplane",)) -> tuple[int | None, str]:
    """Start `mixfleet controlplane` (or ``command``) on db: (exit code, stderr) if it
    exits, (None, log) if it came up and served (then it is stopped)."""
    port_file = workdir / "corrupt.port"
    log_path = workdir / "corrupt.log"
    env = {**os.environ, "MIXFLEET_LOG_FORMAT": "json", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixfleet", *command, "--store", f"sqlite://{db}",
         "--listen", "127.0.0.1:0", "--port-file", str(port_file),
         *(("--insecure",) if command == ("controlplane",) else ())],
        stdout=subprocess.DEVNULL, stderr=log_path.open("wb"), cwd=workdir, env=env,
    )
    try:
        while proc.poll() is None and not port_file.exists():
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
            return None, log_path.read_text()
    return proc.returncode, log_path.read_text()


@pytest.fixture
def served_db(tmp_path: Path) -> Path:
    """A database written by a real control plane, stopped cleanly."""
    import asyncio

    db = tmp_path / "dev.db"
    cp = start_controlplane_process(tmp_path, f"sqlite://{db}")
    try:
        asyncio.run(_populate(cp.address, 0, _NAMESPACES))
    finally:
        cp.stop()
    return db


@pytest.mark.parametrize(
    "command",
    [pytest.param(("controlplane",), id="controlplane"), pytest.param(("dev", "--no-docker"), id="dev")],
)
def test_corrupt_database_is_refused_with_the_way_back(
    tmp_path: Path, served_db: Path, command: tuple[str, ...]
) -> None:
    """Random bytes over the last 64 KB of the store: neither `mixfleet controlplane` nor
    `mixfleet dev` serves it; each exits non-zero with one paragraph naming the file, the
    check that failed and the restore command, and no traceback."""
    _corrupt_tail(served_db)
    code, stderr = _start_outcome(tmp_path, served_db, command)
    assert code is not None, f"the control plane served a corrupt database:\n{stderr[-2000:]}"
    assert code != 0
    assert f"store {served_db} is corrupt" in stderr
    assert "quick_check" in stderr
    assert "mixfleet snapshot restore --from" in stderr
    assert "Traceback" not in stderr


def test_snapshot_of_running_server_restores_over_a_corrupt_file(tmp_path: Path) -> None:
    """A snapshot saved while the server runs and writes, restored over the corrupted file
    (refused while a server holds it), brings back every object it held; the corrupt file
    is kept aside, and the restored server takes new writes."""
    import asyncio

    db = tmp_path / "dev.db"
    snap = tmp_path / "backup.snap"
    cp = start_controlplane_process(tmp_path, f"sqlite://{db}")
    try:
        asyncio.run(_populate(cp.address, 0, _NAMESPACES))
        saved = _mixfleet("snapshot", "save", str(snap), "--store", f"sqlite://{db}", cwd=tmp_path)
        assert saved.returncode == 0, saved.stderr
        assert "saved" in saved.stdout
        asyncio.run(_populate(cp.address, _NAMESPACES, 10))  # after the snapshot: lost
        busy = _mixfleet("snapshot", "restore", "--from", str(snap), "--store", f"sqlite://{db}",
                         cwd=tmp_path)
        assert busy.returncode != 0
        assert "in use by a running mixfleet server" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        cp.stop()

    _corrupt_tail(db)
    restored = _mixfleet("snapshot", "restore", "--from", str(snap), "--store", f"sqlite://{db}",
                         cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("dev.db.corrupt-")]
    assert aside, f"corrupt file not kept aside: {sorted(os.listdir(tmp_path))}"

    cp = start_controlplane_process(tmp_path, f"sqlite://{db}", name="restored")
    try:
        names = asyncio.run(_names(cp.address))
        assert {f"team-{i}" for i in range(_NAMESPACES)} <= names
        assert f"team-{_NAMESPACES}" not in names
        asyncio.run(_populate(cp.address, _NAMESPACES, 1))
        assert f"team-{_NAMESPACES}" in asyncio.run(_names(cp.address))
    finally:
        cp.stop()


def test_restore_refuses_a_corrupt_snapshot(tmp_path: Path, served_db: Path) -> None:
    """A snapshot that fails its check is refused and the store is left as it was."""
    bad = tmp_path / "bad.snap"
    bad.write_bytes(served_db.read_bytes())
    _corrupt_tail(bad)
    before = served_db.read_bytes()
    out = _mixfleet("snapshot", "restore", "--from", str(bad), "--store", f"sqlite://{served_db}",
                    cwd=tmp_path)
    assert out.returncode != 0
    assert f"snapshot {bad} is not usable" in out.stderr and "store not changed" in out.stderr
    assert "Traceback" not in out.stderr
    assert served_db.read_bytes() == before


def test_snapshot_on_etcd_points_to_etcdctl(tmp_path: Path) -> None:
    """etcd keeps its own snapshots: the command says which etcdctl command to use."""
    out = _mixfleet("snapshot", "save", "x.snap", "--store", "etcd://127.0.0.1:2379", cwd=tmp_path)
    assert out.returncode != 0
    assert "etcdctl snapshot save" in out.stderr
