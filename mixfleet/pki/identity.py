"""Who a peer is, from its client certificate: Kubernetes' x509 authenticator rules. The CN is
the user name and each O a group; ``system:node:NAME`` in ``system:nodes`` is node NAME.
Pure (no gRPC): the control plane's ``authn`` reads the certificate off the connection and
asks here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from mixfleet.pki.certs import MASTERS_GROUP, NODE_PREFIX, NODES_GROUP, CertificateError, load_cert, serial_hex

Kind = Literal["node", "user", "anonymous"]
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller, or the anonymous one.

    ``name`` is the node's name for a node (``n1``, not ``system:node:n1``) and the user
    name for a user; ``groups`` the certificate's O values plus ``system:authenticated``;
    ``serial`` the client certificate's serial number in hex ("" without a certificate),
    ``via`` how it was established: "certificate", "token" (bearer token), "insecure" (a
    plaintext server on loopback, whose callers are all trusted) or "none"."""

    kind: Kind
    name: str
    groups: tuple[str, ...] = ()
    serial: str = ""
    via: str = "none"

    @property
    def username(self) -> str:
        """The name as Kubernetes prints it: ``system:node:n1`` for node n1."""
        return NODE_PREFIX + self.name if self.kind == "node" else self.name

    @property
    def is_admin(self) -> bool:
        return MASTERS_GROUP in self.groups

    def __str__(self) -> str:  # for refusals and audit lines
        return f'{self.kind} "{self.username}"'


ANONYMOUS = Identity("anonymous", "system:anonymous", (UNAUTHENTICATED_GROUP,))
# Every caller of a plaintext loopback server (`mixfleet dev`, `controlplane --insecure`):
# such a server cannot tell callers apart, so it trusts them, as the Kubernetes API server's
# old insecure port did.
INSECURE_ADMIN = Identity(
    "user", "system:insecure", (MASTERS_GROUP, AUTHENTICATED_GROUP), via="insecure"
)


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


@functools.lru_cache(maxsize=4096)
def from_certificate(pem: bytes) -> Identity:
    """The identity a verified client certificate states (cached: one parse per cert)."""
    cert = load_cert(pem)
    cns = _values(cert.subject, NameOID.COMMON_NAME)
    if len(cns) != 1 or not cns[0]:
        raise CertificateError("the client certificate has no single common name")
    groups = tuple(_values(cert.subject, NameOID.ORGANIZATION_NAME))
    cn = cns[0]
    all_groups = (*groups, AUTHENTICATED_GROUP)
    if cn.startswith(NODE_PREFIX) and NODES_GROUP in groups:
        return Identity("node", cn[len(NODE_PREFIX):], all_groups, serial_hex(cert), "certificate")
    return Identity("user", cn, all_groups, serial_hex(cert), "certificate")
