"""The audit log: one structlog line, event ``audit``, per object of every mutating call
(apply, create, update, delete), with who asked (user, groups, how they were known:
certificate, token or insecure; the connection's address),
the verb, the object (kind, namespace, name) and the outcome: ``allowed`` (done),
``denied`` (UNAUTHENTICATED or PERMISSION_DENIED: nothing was done) or ``error`` (allowed,
then failed: the gRPC code says how). Never an object's contents, so no Secret value or
token can reach it."""

from __future__ import annotations

from dataclasses import dataclass

from mixfleet.pki.identity import Identity
from mixfleet.util import log

_log = log.get("audit")

ALLOWED = "allowed"
DENIED = "denied"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Target:
    verb: str
    kind: str
    namespace: str
    name: str
    subresource: str = ""


def record(
    identity: Identity | None,
    targets: list[Target],
    outcome: str,
    *,
    peer: str,
    code: str = "OK",
    reason: str = "",
) -> None:
    for t in targets:
        _log.info(
            "audit",
            user=identity.username if identity is not None else "",
            groups=sorted(identity.groups) if identity is not None else [],
            via=identity.via if identity is not None else "none",
            peer=peer,
            verb=t.verb,
            kind=t.kind,
            namespace=t.namespace,
            name=t.name,
            subresource=t.subresource,
            outcome=outcome,
            code=code,
            **({"reason": reason} if reason else {}),
        )
