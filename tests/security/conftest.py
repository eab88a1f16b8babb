"""Fixtures of tests/security: mixctl against one control plane process per module, as in
tests/cli; and a control plane over TLS on 127.0.0.1 with a PKI of its own, and certificates
to call it with."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio

from mixfleet.pki import layout
from mixfleet.pki.certs import CA, MASTERS_GROUP, make_ca
from mixfleet.pki.material import TLSMaterial
from tests.cli.conftest import cp, mixctl  # noqa: F401  (fixtures)


@dataclass
class PKI:
    directory: Path
    ca: CA
    ca_hash: str

    def client(self, name: str = "admin", groups: tuple[str, ...] = (MASTERS_GROUP,), *,
               lifetime: datetime.timedelta = datetime.timedelta(hours=1)) -> TLSMaterial:
        issued = self.ca.issue_pair(common_name=name, orgs=groups, lifetime=lifetime)
        return TLSMaterial(ca=self.ca.cert_pem, cert=issued.cert_pem, key=issued.key_pem)

    @property
    def ca_only(self) -> TLSMaterial:
        return TLSMaterial(ca=self.ca.cert_pem)


def foreign_client(trusting: PKI) -> TLSMaterial:
    """A well-formed admin certificate from another CA, trusting the cluster's server."""
    other = make_ca("intruder-ca")
    issued = CA.load(other.cert_pem, other.key_pem).issue_pair(common_name="admin", orgs=(MASTERS_GROUP,))
    return TLSMaterial(ca=trusting.ca.cert_pem, cert=issued.cert_pem, key=issued.key_pem)


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    result = layout.init(tmp_path / "pki", ("127.0.0.1", "localhost"))
    return PKI(result.directory, layout.load_ca(result.directory), result.ca_hash)


@pytest_asyncio.fixture
async def tls_controlplane(tmp_path: Path, pki: PKI) -> AsyncIterator[object]:
    """An in-process control plane serving mutual TLS on --listen and TLS without client
    certificates on --token-listen; node certificates live 6 s; revocations are re-read
    every 0.2 s."""
    from mixfleet.controlplane.app import ControlPlane, ControlPlaneConfig

    cp = ControlPlane(ControlPlaneConfig(
        store_url=f"sqlite:///{tmp_path / 'state.db'}",
        listen="127.0.0.1:0",
        token_listen="127.0.0.1:0",
        pki_dir=str(pki.directory),
        node_cert_lifetime=datetime.timedelta(seconds=6),
        revocation_refresh=0.2,
        node_monitor_grace=30.0,
    ))
    await cp.start()
    try:
        yield cp
    finally:
        await cp.stop()
