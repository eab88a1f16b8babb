"""Finding the cluster CA before trusting anything (kubeadm join's token discovery): connect
to the control plane over TLS without verifying it, take the certificates it presents (its
serving certificate and the CA), and keep the one whose public key hashes to the
``--ca-hash`` the operator copied from ``mixfleet certs init``. A man in the middle cannot
present a CA with that hash, so everything after is verified against the CA found here."""

from __future__ import annotations

import _ssl
import asyncio
import socket
import ssl
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography import x509

from mixfleet.pki.certs import ca_hash, normalise_hash


class DiscoveryError(Exception):
    """The CA could not be found, or none the server presented has the expected hash."""


def _split(target: str) -> tuple[str, int]:
    hostport = target.split("///")[-1].split(",")[0]
    if hostport.startswith("ipv4:") or hostport.startswith("ipv6:"):
        hostport = hostport[5:]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise DiscoveryError(f"cannot discover the CA at {target!r}: expected host:port")
    return host.strip("[]"), int(port)


def _presented_chain(host: str, port: int, timeout: float) -> list[x509.Certificate]:
    """The certificates the server sends in its handshake, unverified."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # on purpose: what it sends is checked by hash below
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            # Public from Python 3.13; the same method of the SSL object before.
            getter: Any = getattr(tls, "get_unverified_chain", None) or tls._sslobj.get_unverified_chain  # type: ignore[attr-defined]
            chain = getter() or []
    return [x509.load_der_x509_certificate(c.public_bytes(_ssl.ENCODING_DER)) for c in chain]


async def discover_ca(target: str, expected_hash: str, *, timeout: float = 10.0) -> bytes:
    """The CA certificate (PEM) the control plane at ``target`` presents whose discovery hash
    is ``expected_hash`` (``sha256:...``); DiscoveryError otherwise."""
    wanted = normalise_hash(expected_hash)
    host, port = _split(target)
    try:
        chain = await asyncio.to_thread(_presented_chain, host, port, timeout)
    except (OSError, ssl.SSLError) as e:
        raise DiscoveryError(f"cannot reach the control plane at {host}:{port} over TLS: {e}") from None
    seen = []
    for cert in chain:
        pem = cert.public_bytes(serialization.Encoding.PEM)
        digest = ca_hash(pem)
        seen.append(digest)
        if digest == wanted:
            return pem
    raise DiscoveryError(
        f"refusing to join {host}:{port}: none of the certificates it presents matches --ca-hash "
        f"{wanted} (it presents {', '.join(seen) or 'none'}); check the hash printed by "
        "`mixfleet certs init` (or `mixfleet certs hash`), or someone is in between"
    )
