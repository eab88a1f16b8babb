"""Who may talk to a TLS control plane: over real TLS on 127.0.0.1, a plaintext client, a
client without a certificate, or with a certificate that is wrongly signed, expired or
revoked is refused; a cluster certificate is accepted and known by its name."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from mixfleet.client import Client, UnauthenticatedError, UnavailableError
from mixfleet.controlplane import pkirecords
from mixfleet.pki.certs import load_cert
from mixfleet.pki.material import TLSMaterial
from tests.controllers.conftest import eventually
from tests.security.conftest import PKI, foreign_client


async def _list_namespaces(address: str, tls: TLSMaterial | None) -> list[str]:
    async with Client(address, tls=tls, retry_seconds=0.5, timeout=3) as c:
        items, _ = await c.list("Namespace")
        return [i["metadata"]["name"] for i in items]


async def test_a_cluster_certificate_is_served(tls_controlplane: Any, pki: PKI) -> None:
    """An admin certificate signed by the cluster CA lists namespaces over mutual TLS."""
    assert "default" in await _list_namespaces(tls_controlplane.address, pki.client())


async def test_a_plaintext_client_is_refused(tls_controlplane: Any) -> None:
    """Plaintext gRPC gets no answer from either TLS port."""
    for address in (tls_controlplane.address, tls_controlplane.token_address):
        with pytest.raises(UnavailableError):
            await _list_namespaces(address, None)


async def test_a_client_without_certificate_is_refused(tls_controlplane: Any, pki: PKI) -> None:
    """Without a client certificate: the mutual-TLS handshake fails, and on the port without
    client certificates the API answers UNAUTHENTICATED."""
    with pytest.raises(UnavailableError):
        await _list_namespaces(tls_controlplane.address, pki.ca_only)
    with pytest.raises(UnauthenticatedError, match="anonymous requests are refused"):
        await _list_namespaces(tls_controlplane.token_address, pki.ca_only)


async def test_a_wrongly_signed_certificate_is_refused(tls_controlplane: Any, pki: PKI) -> None:
    """A certificate from another CA, though it claims system:masters, fails the handshake."""
    with pytest.raises(UnavailableError):
        await _list_namespaces(tls_controlplane.address, foreign_client(pki))


async def test_an_expired_certificate_is_refused(tls_controlplane: Any, pki: PKI) -> None:
    """A cluster certificate past its notAfter fails the handshake."""
    expired = pki.client(lifetime=datetime.timedelta(seconds=-60))
    assert expired.cert is not None
    assert load_cert(expired.cert).not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc)
    with pytest.raises(UnavailableError):
        await _list_namespaces(tls_controlplane.address, expired)


async def test_a_revoked_certificate_is_refused(tls_controlplane: Any, pki: PKI) -> None:
    """Once a certificate is on the store's revocation list, its calls are UNAUTHENTICATED
    (within the refresh), naming the serial; other certificates keep working."""
    alice, bob = pki.client("alice"), pki.client("bob")
    assert alice.cert is not None
    async with Client(tls_controlplane.address, tls=alice, retry_seconds=0.5, timeout=3) as c:
        await c.list("Namespace")
        assert await pkirecords.revoke(tls_controlplane.store, load_cert(alice.cert))

        async def refused() -> bool:
            try:
                await c.list("Namespace")
            except UnauthenticatedError as e:
                return "has been revoked" in e.message and format(load_cert(alice.cert).serial_number, "x") in e.message
            return False

        await eventually(refused, what="the revoked certificate refused", timeout=10)
    assert "default" in await _list_namespaces(tls_controlplane.address, bob)
