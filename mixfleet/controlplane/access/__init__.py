"""What a caller may do, once ``controlplane.authn`` has said who it is: authorisation
(RBAC bindings of the built-in roles, the node authorizer), node restriction, the
daemonEndpoint check, users' bearer tokens and the audit log.

Refusals: ``ForbiddenError`` (PERMISSION_DENIED, mapped in controlplane/server.py); no or
bad credentials are the authenticator's (``authn.UnauthenticatedError``, UNAUTHENTICATED).
"""

from __future__ import annotations

from mixfleet.pki.identity import Identity


class ForbiddenError(Exception):
    """The caller is known but may not do this; the message says who, what and where, as
    Kubernetes does: ``user "alice" cannot create resource "pods" in namespace "prod"``."""


def node_of(identity: Identity) -> str | None:
    """The node's name for a node identity (``system:node:N`` in ``system:nodes``)."""
    return identity.name if identity.kind == "node" else None


def trusted_insecure(identity: Identity) -> bool:
    """A caller of a plaintext loopback server (dev, --insecure): cannot be told apart."""
    return identity.via == "insecure"


__all__ = ["ForbiddenError", "Identity", "node_of", "trusted_insecure"]
