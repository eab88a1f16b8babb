"""Every request's verdict: the node authorizer for node identities, then RBAC.

RBAC reads RoleBindings and ClusterRoleBindings from informers (every replica keeps its
own, fed by the watch cache), so a check costs no store read; a refusal is checked once
more against the store itself, so a binding made a moment ago is never refused for a cache
that has not caught up. ``system:masters`` is cluster-admin always, as in Kubernetes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Iterable

from mixfleet.api import bindings, podrefs, rbac
from mixfleet.api.rbac import Attributes
from mixfleet.api.types import ObjView
from mixfleet.controlplane import informer as inf
from mixfleet.controlplane.access import ForbiddenError, node_of, nodes
from mixfleet.controlplane.registry import ObjectNotFoundError, Registry
from mixfleet.controlplane.watchcache import WatchCache
from mixfleet.pki.identity import Identity
from mixfleet.util import log

_log = log.get("access")
_SYNC_SECONDS = 5.0


def refusal(identity: Identity, a: Attributes, why: str = "") -> ForbiddenError:
    text = f'user "{identity.username}" cannot {a.describe()}'
    return ForbiddenError(f"{text}: {why}" if why else text)


class Authorizer:
    def __init__(self, registry: Registry, watches: WatchCache | None) -> None:
        self.registry = registry
        self._role_bindings = inf.Informer(registry, "RoleBinding", watches=watches,
                                           indexers={inf.NAMESPACE: inf.INDEXERS[inf.NAMESPACE]})
        self._cluster_bindings = inf.Informer(registry, "ClusterRoleBinding", watches=watches)
        self._pods = inf.Informer(registry, "Pod", watches=watches, indexers={inf.NODE: inf.INDEXERS[inf.NODE]})
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for i in (self._role_bindings, self._cluster_bindings, self._pods):
            self._tasks.append(asyncio.create_task(i.run(), name=f"access-informer-{i.kind.plural}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def authorize(
        self,
        identity: Identity,
        a: Attributes,
        *,
        field_selector: str = "",
        obj: Mapping[str, Any] | None = None,
    ) -> None:
        """Return if ``identity`` may make request ``a``; else raise ForbiddenError."""
        why = ""
        node = node_of(identity)
        if node is not None:
            reason = await nodes.decide(
                node, a, field_selector=field_selector, obj=obj,
                get=self._stored, referenced=self._referenced,
            )
            if reason is None:
                return
            why = reason
        if await self.allowed(identity, a):
            return
        raise refusal(identity, a, why)

    async def allowed(self, identity: Identity, a: Attributes) -> bool:
        """RBAC alone (what ``mixctl auth can-i`` asks for a user)."""
        if identity.is_admin:
            return True
        if rbac.allowed_by(self._cached_rules(identity, a.namespace), a):
            return True
        return rbac.allowed_by(await self._stored_rules(identity, a.namespace), a)

    async def rules_for(self, identity: Identity, namespace: str) -> tuple[rbac.Rule, ...]:
        """Every rule ``identity`` holds in ``namespace`` ("" : at the cluster scope)."""
        if identity.is_admin:
            return rbac.BUILTIN_ROLES["cluster-admin"]
        return tuple(await self._stored_rules(identity, namespace))

    def _cached_rules(self, identity: Identity, namespace: str) -> list[rbac.Rule]:
        if not (self._role_bindings.synced.is_set() and self._cluster_bindings.synced.is_set()):
            return []
        scoped = self._role_bindings.by_index(inf.NAMESPACE, namespace) if namespace else []
        return _rules(identity, self._cluster_bindings.items(), scoped)

    async def _stored_rules(self, identity: Identity, namespace: str) -> list[rbac.Rule]:
        cluster, _ = await self.registry.list("ClusterRoleBinding")
        scoped = (await self.registry.list("RoleBinding", namespace=namespace))[0] if namespace else []
        return _rules(identity, cluster, scoped)

    async def _stored(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        if not name:
            return None
        try:
            return await self.registry.get(kind, name, namespace)
        except ObjectNotFoundError:
            return None

    async def _referenced(self, namespace: str, node: str, kind: str, name: str) -> bool:
        """Whether a pod bound to ``node`` in ``namespace`` refers to ``kind``/``name``:
        from the informer, else (it may lag a pod bound a moment ago) from the store."""
        def refers(pods: Iterable[Mapping[str, Any]]) -> bool:
            return any((p.get("metadata") or {}).get("namespace") == namespace
                       and (kind, name) in podrefs.references(p) for p in pods)

        if self._pods.synced.is_set() and refers(self._pods.by_index(inf.NODE, node)):
            return True
        pods, _ = await self.registry.list("Pod", namespace=namespace, field_selector=f"spec.nodeName={node}")
        return refers(pods)


def _rules(identity: Identity, cluster: Iterable[ObjView], scoped: Iterable[ObjView]) -> list[rbac.Rule]:
    rules: list[rbac.Rule] = []
    for b in (*cluster, *scoped):
        if bindings.binds(b, identity.username, identity.groups):
            rules.extend(bindings.rules_of(b))
    return rules
