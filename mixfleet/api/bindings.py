"""RoleBinding and ClusterRoleBinding objects (``rbac.authorization.k8s.io/v1``): their
checks, and who and what they grant.

Mixfleet's roles are the built-in ClusterRoles of ``api.rbac`` (cluster-admin, admin, edit,
view); a binding to any other role, or to a Role, is refused at apply as not supported, so a
binding is never accepted and then silently grants nothing. Subjects are Users and Groups
(names as the identity carries them: a token's user and groups, a certificate's CN and O);
ServiceAccounts are refused, Mixfleet has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mixfleet.api import rbac
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item, show

_SUBJECT_KINDS = ("User", "Group")
NOT_SUPPORTED = "not supported by Mixfleet"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def validate_binding(obj: dict[str, Any], errs: list[FieldError]) -> None:
    ref = obj.get("roleRef")
    if not isinstance(ref, dict) or not ref:
        errs.append(FieldError("roleRef", "required value"))
    else:
        if ref.get("apiGroup") not in (None, "", rbac.RBAC_GROUP):
            errs.append(FieldError("roleRef.apiGroup", f'unsupported value {show(ref.get("apiGroup"))}: '
                                   f'supported values: "{rbac.RBAC_GROUP}"'))
        if ref.get("kind") != "ClusterRole":
            errs.append(FieldError("roleRef.kind", f"{show(ref.get('kind'))}: {NOT_SUPPORTED}: "
                                   "bind one of the built-in ClusterRoles (kind: ClusterRole)"))
        name = ref.get("name")
        if not name:
            errs.append(FieldError("roleRef.name", "required value"))
        elif name not in rbac.BUILTIN_ROLES:
            errs.append(FieldError("roleRef.name", f"{show(name)}: custom roles are {NOT_SUPPORTED} "
                                   f"(built-in ClusterRoles: {', '.join(rbac.BUILTIN_ROLES)})"))
    subjects = obj.get("subjects")
    for i, s in enumerate(subjects if isinstance(subjects, list) else ()):
        path = item("subjects", i)
        s = _map(s)
        if s.get("kind") not in _SUBJECT_KINDS:
            errs.append(FieldError(child(path, "kind"), f"{show(s.get('kind'))}: {NOT_SUPPORTED} "
                                   "(supported: User, Group)"))
        if not s.get("name"):
            errs.append(FieldError(child(path, "name"), "required value"))
        if s.get("apiGroup") not in (None, "", rbac.RBAC_GROUP):
            errs.append(FieldError(child(path, "apiGroup"), f'unsupported value {show(s.get("apiGroup"))}: '
                                   f'supported values: "{rbac.RBAC_GROUP}"'))


def role_name(binding: Mapping[str, Any]) -> str:
    return str(_map(binding.get("roleRef")).get("name") or "")


def binds(binding: Mapping[str, Any], user: str, groups: Iterable[str]) -> bool:
    """Whether ``binding`` names this user or one of their groups."""
    groups = set(groups)
    for s in binding.get("subjects") or ():
        s = _map(s)
        if s.get("kind") == "User" and s.get("name") == user:
            return True
        if s.get("kind") == "Group" and s.get("name") in groups:
            return True
    return False


def rules_of(binding: Mapping[str, Any]) -> tuple[rbac.Rule, ...]:
    return tuple(rbac.BUILTIN_ROLES.get(role_name(binding), ()))
