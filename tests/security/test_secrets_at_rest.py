"""Secrets at rest (issue 11, item 6): a Secret's value is absent from the store's raw bytes
(the SQLite files, etcd), reads and watches see it whole, a key rotation re-seals every
Secret, and a store sealed with a key that is gone says so instead of serving garbage."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.encrypted import MAGIC, EncryptedStore, KeyRing, new_key_file
from tests.cli.conftest import Mixctl
from tests.fixtures.controlplane import REPO, start_controlplane_process

VALUE = "correct-horse-battery-staple-7f3a"
KEY = "/registry/secrets/default/db"


def raw_bytes(work: Path) -> bytes:
    return b"".join(p.read_bytes() for p in work.glob("state.db*"))


def mixfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mixfleet", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)


async def sealed_under(work: Path) -> str:
    """The name of the key that seals the Secret in the stopped control plane's store."""
    store = EmbeddedStore(str(work / "state.db"))
    try:
        kv = await store.get(KEY)
        assert kv is not None and kv.value.startswith(MAGIC)
        return kv.value[len(MAGIC):].split(b":", 1)[0].decode()
    finally:
        await store.close()


async def test_secret_values_never_reach_the_disk_and_rotation_reseals(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    r = mixfleet("encryption-key", "new", str(keys), "--name", "k1")
    assert r.returncode == 0, r.stderr
    assert keys.stat().st_mode & 0o777 == 0o600
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    cp = start_controlplane_process(tmp_path, store_url, "--encryption-key-file", str(keys))
    mixctl = Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
    try:
        r = mixctl("create", "secret", "generic", "db", f"--from-literal=password={VALUE}")
        assert r.returncode == 0, r.stderr
        got = yaml.safe_load(mixctl("get", "secret", "db", "-o", "yaml").stdout)
        assert base64.b64decode(got["data"]["password"]).decode() == VALUE
    finally:
        cp.stop()
    disk = raw_bytes(tmp_path)
    assert b"mixfleet:enc:aesgcm:v1:k1:" in disk
    for form in (VALUE.encode(), base64.b64encode(VALUE.encode())):
        assert form not in disk
    assert VALUE not in cp.logs()
    assert await sealed_under(tmp_path) == "k1"

    # Rotation: a new key first, restart; the leader re-seals, and the old key can go.
    assert mixfleet("encryption-key", "new", str(keys), "--name", "k2").returncode == 0
    cp = start_controlplane_process(tmp_path, store_url, "--encryption-key-file", str(keys))
    try:
        mixctl = Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
        for _ in range(100):
            if '"event": "encryption.resealed"' in cp.logs():
                break
            subprocess.run(["sleep", "0.1"])
        assert '"values": 1' in cp.logs()
    finally:
        cp.stop()
    assert await sealed_under(tmp_path) == "k2"
    doc = yaml.safe_load(keys.read_text())
    keys.write_text(yaml.safe_dump({"keys": [k for k in doc["keys"] if k["name"] == "k2"]}))
    keys.chmod(0o600)
    cp = start_controlplane_process(tmp_path, store_url, "--encryption-key-file", str(keys))
    try:
        mixctl = Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
        got = yaml.safe_load(mixctl("get", "secret", "db", "-o", "yaml").stdout)
        assert base64.b64decode(got["data"]["password"]).decode() == VALUE
    finally:
        cp.stop()


async def test_a_store_sealed_with_a_lost_key_says_which(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    new_key_file(keys, "old")
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    cp = start_controlplane_process(tmp_path, store_url, "--encryption-key-file", str(keys))
    try:
        mixctl = Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
        assert mixctl("create", "secret", "generic", "db", f"--from-literal=pw={VALUE}").returncode == 0
    finally:
        cp.stop()
    other = tmp_path / "other.yaml"
    new_key_file(other, "new")
    cp = start_controlplane_process(tmp_path, store_url, "--encryption-key-file", str(other))
    try:
        mixctl = Mixctl(server=cp.address, config=tmp_path / "mixctl-config")
        r = mixctl("get", "secret", "db")
        assert r.returncode != 0
        assert "encrypted with key 'old', which is not in the encryption key file" in r.stderr
        assert "Traceback" not in r.stderr and VALUE not in r.stderr
    finally:
        cp.stop()


def test_a_bad_key_file_is_refused_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "keys.yaml"
    bad.write_text(yaml.safe_dump({"keys": [{"name": "k", "secret": base64.b64encode(b"short").decode()}]}))
    r = mixfleet("controlplane", "--insecure", "--store", f"sqlite:///{tmp_path / 's.db'}", "--listen", "127.0.0.1:0",
                 "--encryption-key-file", str(bad))
    assert r.returncode == 1
    assert "keys[0] (k): secret must be 32 bytes (AES-256), base64-encoded; it is 5" in r.stderr
    assert "Traceback" not in r.stderr


async def test_on_etcd_the_raw_value_is_sealed_and_watches_see_it_whole(etcd_store, tmp_path: Path) -> None:
    new_key_file(tmp_path / "keys.yaml", "k1")
    sealed = EncryptedStore(etcd_store, KeyRing.load(tmp_path / "keys.yaml"), ["/registry/secrets/"])
    start = await etcd_store.current_revision() + 1
    doc = json.dumps({"data": {"pw": base64.b64encode(VALUE.encode()).decode()}}).encode()
    await sealed.create(KEY, doc)
    raw = await etcd_store.get(KEY)
    assert raw is not None and raw.value.startswith(b"mixfleet:enc:aesgcm:v1:k1:")
    assert base64.b64encode(VALUE.encode()) not in raw.value
    assert (await sealed.get(KEY)).value == doc  # type: ignore[union-attr]
    events = sealed.watch("/registry/secrets/", start)
    try:
        ev = await events.__anext__()
    finally:
        await events.aclose()
    assert ev.kv.value == doc
    # A sealed value moved under another key does not open (the key is authenticated).
    await etcd_store.put("/registry/secrets/default/copy", raw.value)
    with pytest.raises(Exception, match="does not open"):
        await sealed.get("/registry/secrets/default/copy")
