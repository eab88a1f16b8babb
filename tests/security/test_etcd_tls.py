"""The etcd client over TLS, against a real etcd serving TLS and requiring client
certificates (--client-cert-auth): with the CA and a client certificate the store works
(reads, transactions, watches) and a control plane runs on it from `mixfleet controlplane
--etcd-cafile/--etcd-certfile/--etcd-keyfile`; plaintext, or TLS without a certificate, is
refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from mixfleet.pki.certs import CA, Issued, make_ca
from mixfleet.pki.material import TLSMaterial
from mixfleet.store.base import UnavailableError
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.controlplane import REPO, start_controlplane_process
from tests.fixtures.etcd import ETCD_BINARY, free_port, require_etcd

pytestmark = pytest.mark.etcd


class TLSEtcd:
    def __init__(self, root: Path) -> None:
        ca_issued = make_ca("etcd-ca")
        self.ca = CA.load(ca_issued.cert_pem, ca_issued.key_pem)
        self.root = root
        self.port = free_port()
        serving = self.ca.issue_pair(common_name="etcd", sans=("127.0.0.1",), server=True, client=True)
        self.client_pair = self.ca.issue_pair(common_name="mixfleet")
        self.files = {name: self._write(name, data) for name, data in {
            "ca.crt": self.ca.cert_pem, "etcd.crt": serving.cert_pem, "etcd.key": serving.key_pem,
            "client.crt": self.client_pair.cert_pem, "client.key": self.client_pair.key_pem,
        }.items()}
        url = f"https://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [ETCD_BINARY, "--name=tls", f"--data-dir={root / 'data'}",
             f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
             f"--listen-peer-urls=http://127.0.0.1:{free_port()}",
             f"--cert-file={self.files['etcd.crt']}", f"--key-file={self.files['etcd.key']}",
             f"--trusted-ca-file={self.files['ca.crt']}", "--client-cert-auth",
             "--log-level=warn", "--logger=zap"],
            stdout=subprocess.DEVNULL, stderr=(root / "etcd.log").open("wb"),
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def tls(self, *, with_cert: bool = True) -> TLSMaterial:
        pair: Issued | None = self.client_pair if with_cert else None
        return TLSMaterial(ca=self.ca.cert_pem, cert=pair.cert_pem if pair else None,
                           key=pair.key_pem if pair else None)

    def wait_ready(self) -> None:
        async def probe() -> None:
            store = EtcdStore([self.endpoint], tls=self.tls(), retry_budget=0.5)
            try:
                await store.current_revision()
            finally:
                await store.close()

        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(probe())
                return
            except UnavailableError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"etcd with TLS did not start: {(self.root / 'etcd.log').read_text()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSEtcd]:
    require_etcd()
    etcd = TLSEtcd(tmp_path_factory.mktemp("tls-etcd"))
    try:
        etcd.wait_ready()
        yield etcd
    finally:
        etcd.stop()


async def test_the_store_works_over_tls_with_a_client_certificate(tls_etcd: TLSEtcd) -> None:
    """Create, read back, list and watch a key over TLS with a client certificate."""
    store = EtcdStore([tls_etcd.endpoint], prefix="/tls-test", tls=tls_etcd.tls())
    try:
        start = await store.current_revision() + 1
        rev = await store.create("/a", b"1")
        kv = await store.get("/a")
        assert kv is not None and kv.value == b"1" and kv.mod_revision == rev
        assert [k.key for k in (await store.list("/"))[0]] == ["/a"]
        watch = store.watch("/", start)
        try:
            event = await asyncio.wait_for(watch.__anext__(), 10)
        finally:
            await watch.aclose()
        assert event.kv.key == "/a"
    finally:
        await store.close()


@pytest.mark.parametrize("tls", ["plaintext", "no-client-certificate"])
async def test_the_store_is_refused_without_tls_or_certificate(tls_etcd: TLSEtcd, tls: str) -> None:
    """Plaintext, or TLS without a client certificate, to an etcd with --client-cert-auth."""
    material = None if tls == "plaintext" else tls_etcd.tls(with_cert=False)
    store = EtcdStore([tls_etcd.endpoint], tls=material, retry_budget=1.0, timeout=2.0)
    try:
        with pytest.raises(UnavailableError):
            await store.get("/a")
    finally:
        await store.close()


def test_mixfleet_controlplane_runs_on_etcd_over_tls(tls_etcd: TLSEtcd, tmp_path: Path) -> None:
    """`mixfleet controlplane --etcd-cafile/--etcd-certfile/--etcd-keyfile` serves, and its
    namespaces are in etcd; mixctl reads them through it."""
    f = tls_etcd.files
    cp = start_controlplane_process(
        tmp_path, f"etcd://{tls_etcd.endpoint}/tls-cp", "--insecure",
        "--etcd-cafile", str(f["ca.crt"]), "--etcd-certfile", str(f["client.crt"]),
        "--etcd-keyfile", str(f["client.key"]),
    )
    try:
        out = subprocess.run(
            [sys.executable, "-m", "mixfleet.mixctl", "--server", cp.address, "get", "ns", "-o", "name"],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "MIXCTL_CONFIG": str(tmp_path / "none")},
        )
        assert out.returncode == 0, out.stderr
        assert "namespace/default" in out.stdout
    finally:
        cp.stop()
