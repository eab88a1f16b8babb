"""The one address the control plane dials for a node (logs, exec): the Node's
``status.daemonEndpoint``, which would otherwise let anyone who can write a Node point the
control plane at any host and port (SSRF).

A new or changed endpoint is accepted only
- from the node's own identity (``system:node:N`` for Node ``N``; on a dev/insecure control
  plane, where callers are anonymous, from any caller), and
- naming, as an IP literal with a port, the very address the writing connection came from
  (on a dev/insecure control plane a loopback caller may name 127.0.0.1 or ::1), so a node
  can only point the control plane at itself.
``dial_target`` reads it back for a dial, checking the form again; no name is resolved, so
DNS can never redirect the dial elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from mixfleet.controlplane.access import node_of, trusted_insecure
from mixfleet.pki.identity import Identity

FIELD = "status.daemonEndpoint"
_DEV_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


class EndpointError(ValueError):
    pass


def endpoint_of(node: Mapping[str, Any] | None) -> str:
    return str(((node or {}).get("status") or {}).get("daemonEndpoint") or "")


def parse(endpoint: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """``10.0.0.5:10250`` or ``[fd00::5]:10250`` -> (address, port); EndpointError otherwise."""
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not port_text.isdigit():
        raise EndpointError(f"{endpoint!r} is not IP:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise EndpointError(f"{endpoint!r}: the host must be an IP address, not a name") from None
    port = int(port_text)
    if not 0 < port < 65536:
        raise EndpointError(f"{endpoint!r}: port out of range")
    return address, port


def peer_address(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``)."""
    scheme, _, rest = peer.partition(":")
    if scheme not in ("ipv4", "ipv6"):
        return None
    host = rest.rpartition(":")[0].strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_write(
    identity: Identity,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    *,
    peer: str,
    dev: bool,
) -> str | None:
    """None when the Node write ``new`` (over ``old``) may carry its daemonEndpoint; else
    why not. An endpoint left as it was, or removed, is always fine."""
    endpoint = endpoint_of(new)
    if not endpoint or endpoint == endpoint_of(old):
        return None
    name = str((new.get("metadata") or {}).get("name") or "")
    if node_of(identity) != name and not (dev and trusted_insecure(identity)):
        return f"only the node itself (system:node:{name}) may set {FIELD}"
    try:
        address, _ = parse(endpoint)
    except EndpointError as e:
        return f"{FIELD}: {e}"
    caller = peer_address(peer)
    if caller is not None and address == caller:
        return None
    if dev and caller is not None and caller.is_loopback and address in _DEV_LOOPBACK:
        return None
    return (f"{FIELD}: {endpoint} is not the address this node's connection comes from "
            f"({caller or peer}): a node may only name itself")


def dial_target(node: Mapping[str, Any]) -> str:
    """The address to dial for ``node``; EndpointError when it has none fit to dial."""
    endpoint = endpoint_of(node)
    if not endpoint:
        raise EndpointError("no daemonEndpoint")
    address, port = parse(endpoint)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
