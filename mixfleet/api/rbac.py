"""Who may do what: request attributes, policy rules and the built-in roles, as Kubernetes'
RBAC has them (pure data and matching; the control plane's authorizer reads bindings).

A request is an ``Attributes``: a verb (get, list, watch, create, update, patch, delete) on a
resource (``pods``, ``pods/status``, ``pods/log``...) of an API group, in a namespace (empty:
cluster-scoped), optionally by name. A ``Rule`` allows the requests it matches; a role is a
tuple of rules. The built-in ClusterRoles follow Kubernetes' user-facing defaults:

- ``cluster-admin``: everything, everywhere;
- ``admin``: everything on the namespaced resources of the namespaces it is bound in,
  RoleBindings included (so a namespace admin can hand out ``edit`` and ``view`` there);
- ``edit``: read and write workloads, pods, ConfigMaps and Secrets, but not RoleBindings;
- ``view``: read the namespace's objects except Secrets (reading a Secret is as good as
  holding its credentials), as Kubernetes' ``view`` does.

A RoleBinding grants its role within its own namespace only; a ClusterRoleBinding grants it
everywhere, cluster-scoped resources included. As in Kubernetes, reading the Namespace
object ``N`` counts as a request in namespace ``N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from mixfleet.api.kinds import Kind

READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "update", "patch", "delete")
VERBS = READ_VERBS + WRITE_VERBS
MUTATING_VERBS = frozenset(WRITE_VERBS)

RBAC_GROUP = "rbac.authorization.k8s.io"
ANY = "*"

# Groups with a fixed meaning, as in Kubernetes.
SYSTEM_MASTERS = "system:masters"  # always cluster-admin
SYSTEM_NODES = "system:nodes"  # node identities: the node authorizer (controlplane/access)
AUTHENTICATED = "system:authenticated"
NODE_USER_PREFIX = "system:node:"


@dataclass(frozen=True, slots=True)
class Attributes:
    """One request, as the authorizer sees it."""

    verb: str
    resource: str  # plural, e.g. "pods"
    api_group: str = ""  # "" for the core group
    namespace: str = ""  # "" for a cluster-scoped resource (or all namespaces)
    name: str = ""
    subresource: str = ""  # "status", "log"

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        """``create resource "pods" in namespace "prod"``: the tail of a refusal."""
        group = f' in API group "{self.api_group}"' if self.api_group else ""
        where = f' in namespace "{self.namespace}"' if self.namespace else " at the cluster scope"
        return f'{self.verb} resource "{self.full_resource}"{group}{where}'


def group_of(kind: Kind) -> str:
    """``apps`` for ``apps/v1``, ``""`` for the core ``v1``."""
    return kind.api_version.rsplit("/", 1)[0] if "/" in kind.api_version else ""


def attributes(
    verb: str, kind: Kind, *, namespace: str = "", name: str = "", subresource: str = ""
) -> Attributes:
    """A request on ``kind``; a Namespace's own name is its namespace, as in Kubernetes."""
    ns = namespace if kind.namespaced else ""
    if kind.kind == "Namespace" and name:
        ns = name
    return Attributes(verb, kind.plural, group_of(kind), ns, name, subresource)


@dataclass(frozen=True, slots=True)
class Rule:
    verbs: frozenset[str]
    resources: frozenset[str]  # "pods", "pods/status", "*"
    api_groups: frozenset[str] = frozenset({ANY})
    resource_names: frozenset[str] = frozenset()  # empty: any name

    def allows(self, a: Attributes) -> bool:
        return (
            _has(self.verbs, a.verb)
            and _has(self.api_groups, a.api_group)
            and _has(self.resources, a.full_resource)
            and (not self.resource_names or a.name in self.resource_names)
        )

    def atoms(self) -> Iterable[tuple[str, str, str]]:
        """(verb, group, resource) triples this rule grants; ``*`` stays a wildcard."""
        for verb in self.verbs:
            for group in self.api_groups:
                for resource in self.resources:
                    yield verb, group, resource


def _has(values: frozenset[str], value: str) -> bool:
    return ANY in values or value in values


def rule(verbs: Iterable[str], resources: Iterable[str], groups: Iterable[str] = (ANY,)) -> Rule:
    return Rule(frozenset(verbs), frozenset(resources), frozenset(groups))


# The namespaced resources a namespace's users work with, by API group.
_WORKLOADS: tuple[str, ...] = ("pods", "pods/log", "pods/status", "deployments", "replicasets",
                              "persistentvolumeclaims", "configmaps", "events")
_WORKLOADS += ("jobs", "cronjobs")  # batch/v1
_WORKLOADS += ("daemonsets",)  # apps/v1
_SECRETS = ("secrets",)
_ACCESS = ("rolebindings",)

# Running commands in a pod's containers (mixctl exec: create pods/exec) writes as much as
# anything: not for view.
_EXEC = ("pods/exec",)

BUILTIN_ROLES: Mapping[str, tuple[Rule, ...]] = {
    "cluster-admin": (rule((ANY,), (ANY,)),),
    "admin": (
        rule(VERBS, _WORKLOADS + _EXEC + _SECRETS + _ACCESS + ("leases",)),
        rule(READ_VERBS, ("namespaces",)),
    ),
    "edit": (
        rule(VERBS, _WORKLOADS + _EXEC + _SECRETS + ("leases",)),
        rule(READ_VERBS, ("namespaces",)),
    ),
    "view": (
        rule(READ_VERBS, _WORKLOADS),
        rule(READ_VERBS, ("namespaces",)),
    ),
}


def allowed_by(rules: Iterable[Rule], a: Attributes) -> bool:
    return any(r.allows(a) for r in rules)


def covers(held: Iterable[Rule], wanted: Iterable[Rule]) -> bool:
    """Whether ``held`` grants everything ``wanted`` does (a ``*`` in ``wanted`` only by a
    ``*`` in ``held``): Kubernetes' escalation check, so that no one binds a role with more
    power than they have themselves."""
    held_rules = tuple(h for h in held if not h.resource_names)
    return all(
        any(_has(h.verbs, verb) and _has(h.api_groups, group) and _has(h.resources, resource)
            for h in held_rules)
        for w in wanted
        for verb, group, resource in w.atoms()
    )


def node_name(user: str) -> str | None:
    """``n1`` for the node identity ``system:node:n1``."""
    if user.startswith(NODE_USER_PREFIX) and len(user) > len(NODE_USER_PREFIX):
        return user[len(NODE_USER_PREFIX):]
    return None
