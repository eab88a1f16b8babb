"""The servicer's one entry to access control: whether the caller (``authn``'s
``current_identity()``, set before the handler runs) may read or write what they ask, node restriction and the daemonEndpoint check on Node writes, and the
audit line of every write. Each RPC asks here before the registry reads anything for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mixfleet.api import bindings, kinds, rbac
from mixfleet.api.types import Obj
from mixfleet.controlplane.access import ForbiddenError, audit, endpoint, node_of, nodes
from mixfleet.controlplane.access.authorizer import Authorizer, refusal
from mixfleet.controlplane.authn import current_identity
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.pki.identity import Identity


@dataclass(frozen=True, slots=True)
class Write:
    """One object a mutating call writes: ``verb`` create | update | apply | delete."""

    verb: str
    kind: str
    namespace: str
    name: str
    obj: Mapping[str, Any] | None = None
    status_only: bool = False

    @staticmethod
    def of(verb: str, obj: Mapping[str, Any], *, status_only: bool = False) -> "Write":
        m = obj.get("metadata") or {}
        return Write(verb, str(obj.get("kind") or ""), str(m.get("namespace") or ""),
                     str(m.get("name") or ""), obj, status_only)


def _resolve(kind: str) -> kinds.Kind | None:
    try:
        return kinds.lookup(kind)
    except kinds.UnknownKindError:
        return None


def _namespace(k: kinds.Kind, namespace: str) -> str:
    """The namespace the registry will use: ``default`` when none is given."""
    return (namespace or "default") if k.namespaced else ""


class Access:
    def __init__(
        self,
        registry: Registry,
        watches: WatchCache | None,
        *,
        insecure: bool,
        code_for: Callable[[BaseException], str],
    ) -> None:
        """``insecure``: a plaintext loopback server (dev, --insecure), whose callers are
        all trusted; a daemonEndpoint may then name loopback."""
        self.registry = registry
        self.dev = insecure
        self.authz = Authorizer(registry, watches)
        self._code_for = code_for

    def start(self) -> None:
        self.authz.start()

    async def stop(self) -> None:
        await self.authz.stop()

    async def read(
        self, verb: str, kind: str, *, namespace: str = "", name: str = "",
        all_namespaces: bool = False, field_selector: str = "", subresource: str = "",
    ) -> Identity:
        """Authorise a get, list, watch (or a pod's logs: get pods/log)."""
        identity = current_identity()
        k = _resolve(kind)
        if k is not None:
            ns = "" if all_namespaces else _namespace(k, namespace)
            a = rbac.attributes(verb, k, namespace=ns, name=name, subresource=subresource)
            await self.authz.authorize(identity, a, field_selector=field_selector)
        return identity

    async def review(self, a: rbac.Attributes) -> tuple[Identity, str | None]:
        """``mixctl auth can-i``: (who asks, None if allowed else why not)."""
        identity = current_identity()
        try:
            await self.authz.authorize(identity, a)
        except ForbiddenError as e:
            return identity, str(e)
        return identity, None

    @contextlib.asynccontextmanager
    async def writing(self, context: Any, writes: list[Write]) -> AsyncIterator[Identity]:
        """Authorise and admit every write, run the body, then audit each."""
        peer = str(context.peer() or "")
        identity = current_identity()
        targets = [audit.Target(w.verb, w.kind, w.namespace, w.name) for w in writes]
        try:
            targets = [await self._admit(identity, w, peer) for w in writes]
        except ForbiddenError as e:
            audit.record(identity, targets, audit.DENIED, peer=peer, reason=str(e), code="PERMISSION_DENIED")
            raise
        except Exception as e:
            audit.record(identity, targets, audit.ERROR, peer=peer, code=self._code_for(e))
            raise
        try:
            yield identity
        except BaseException as e:
            audit.record(identity, targets, audit.ERROR, peer=peer,
                         code=self._code_for(e) if isinstance(e, Exception) else "CANCELLED")
            raise
        audit.record(identity, targets, audit.ALLOWED, peer=peer)

    async def _admit(self, identity: Identity, w: Write, peer: str) -> audit.Target:
        k = _resolve(w.kind)
        if k is None:  # nothing of an unknown kind is ever written: the registry says why
            return audit.Target(w.verb, w.kind, w.namespace, w.name)
        ns = _namespace(k, w.namespace)
        old = await self._stored(k, w.name, ns) if (w.verb == "apply" or k.kind == "Node") else None
        verb = ("patch" if old is not None else "create") if w.verb == "apply" else w.verb
        subresource = "status" if w.status_only else ""
        a = rbac.attributes(verb, k, namespace=ns, name=w.name, subresource=subresource)
        await self.authz.authorize(identity, a, obj=w.obj)
        if k.kind == "Node" and w.obj is not None:
            self._admit_node(identity, a, w, old, peer)
        if k.kind in ("RoleBinding", "ClusterRoleBinding") and w.obj is not None:
            await self._no_escalation(identity, a, w.obj)
        return audit.Target(verb, k.kind, ns, w.name, subresource)

    async def _stored(self, k: kinds.Kind, name: str, namespace: str) -> Obj | None:
        if not name:
            return None
        try:
            return await self.registry.get(k.kind, name, namespace)
        except ObjectNotFoundError:
            return None

    def _admit_node(self, identity: Identity, a: rbac.Attributes, w: Write,
                    old: Mapping[str, Any] | None, peer: str) -> None:
        assert w.obj is not None
        new: Mapping[str, Any] = w.obj
        if w.status_only and old is not None:
            new = {**old, "status": w.obj.get("status") or {}}
        node = node_of(identity)
        if node is not None and not w.status_only:
            why = nodes.admit_node_write(node, new, old)
            if why:
                raise refusal(identity, a, why)
        # The registry keeps a stored status on a full update or an apply: only a create,
        # a status write or a first status can set the endpoint.
        if old is not None and old.get("status") and not w.status_only:
            return
        why = endpoint.check_write(identity, new, old, peer=peer, dev=self.dev)
        if why:
            raise refusal(identity, a, why)

    async def _no_escalation(self, identity: Identity, a: rbac.Attributes, binding: Mapping[str, Any]) -> None:
        """As Kubernetes: binding a role needs every permission the role grants, where it
        grants them (a RoleBinding: its namespace; a ClusterRoleBinding: everywhere)."""
        held = await self.authz.rules_for(identity, a.namespace)
        if not rbac.covers(held, bindings.rules_of(binding)):
            raise refusal(identity, a, f'it would grant role "{bindings.role_name(binding)}", '
                          "which holds permissions the user does not have")
