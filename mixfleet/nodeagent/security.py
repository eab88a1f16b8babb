"""A container's security context, from the pod's and the container's ``securityContext``
(the container's fields win, windowsOptions field by field, as Kubernetes'
DetermineEffectiveSecurityContext), into what the engine takes (engines/base.py
ContainerSpec: Docker's User, GroupAdd, ReadonlyRootfs, Privileged, CapAdd/CapDrop,
SecurityOpt, and the gMSA credential spec); and the kubelet's ``runAsNonRoot`` check, which
needs the image's user and so runs just before the container is created.

Linux: ``runAsUser[:runAsGroup]`` is the User (api/securitycontext.py refuses a group
without a user), ``supplementalGroups`` the extra groups, ``allowPrivilegeEscalation:
false`` the ``no-new-privileges`` option, seccomp ``Unconfined`` the ``seccomp=unconfined``
option (``RuntimeDefault`` is Docker's default profile: nothing to say), ``fsGroup`` one
more group (volumes/ownership.py gives it the pod's volumes). Windows:
``runAsUserName`` is the User (ContainerUser, ContainerAdministrator or a local account),
``gmsaCredentialSpec`` (the control plane inlined it, controlplane/gmsa.py) the credential
spec. What the API refuses for each OS never reaches here."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from mixfleet.api.securitycontext import WINDOWS_ADMIN, effective_windows_options, normalize_capability
from mixfleet.nodeagent.volumes.errors import ContainerConfigError

NO_NEW_PRIVILEGES = "no-new-privileges"
SECCOMP_UNCONFINED = "seccomp=unconfined"


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _contexts(pod: Mapping[str, Any], container: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return _map(_map(pod.get("spec")).get("securityContext")), _map(container.get("securityContext"))


def _effective(pod_sc: dict[str, Any], sc: dict[str, Any], field: str) -> Any:
    own = sc.get(field)
    return own if own is not None else pod_sc.get(field)


def engine_fields(pod: Mapping[str, Any], container: Mapping[str, Any], *, host_os: str) -> dict[str, Any]:
    """The ContainerSpec fields (keyword arguments) of the container's security context."""
    pod_sc, sc = _contexts(pod, container)
    if host_os == "windows":
        opts = effective_windows_options(pod_sc, sc)
        out: dict[str, Any] = {}
        if opts.get("runAsUserName"):
            out["user"] = str(opts["runAsUserName"])
        if opts.get("gmsaCredentialSpec"):
            out["credential_spec"] = str(opts["gmsaCredentialSpec"])
        return out
    return _linux_fields(pod_sc, sc)


def _linux_fields(pod_sc: dict[str, Any], sc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    uid, gid = _effective(pod_sc, sc, "runAsUser"), _effective(pod_sc, sc, "runAsGroup")
    if uid is not None:
        out["user"] = f"{uid}:{gid}" if gid is not None else str(uid)
    groups = list(pod_sc.get("supplementalGroups") or ())
    if pod_sc.get("fsGroup") is not None and pod_sc["fsGroup"] not in groups:
        groups.append(pod_sc["fsGroup"])  # the kubelet adds it: the volumes are the group's
    if groups:
        out["group_add"] = tuple(str(g) for g in groups)
    if sc.get("readOnlyRootFilesystem"):
        out["read_only_rootfs"] = True
    if sc.get("privileged"):
        out["privileged"] = True
    caps = _map(sc.get("capabilities"))
    if caps.get("add"):
        out["cap_add"] = tuple(_docker_cap(c) for c in caps["add"])
    if caps.get("drop"):
        out["cap_drop"] = tuple(_docker_cap(c) for c in caps["drop"])
    options = []
    if sc.get("allowPrivilegeEscalation") is False:
        options.append(NO_NEW_PRIVILEGES)
    seccomp = _map(_effective(pod_sc, sc, "seccompProfile")).get("type")
    if seccomp == "Unconfined":
        options.append(SECCOMP_UNCONFINED)
    if options:
        out["security_opt"] = tuple(options)
    return out


def _docker_cap(cap: Any) -> str:
    name = str(cap)
    return name if name == "ALL" else "CAP_" + normalize_capability(name)


def _pod_name(pod: Mapping[str, Any]) -> str:
    """format.Pod of the kubelet: ``name_namespace(uid)``."""
    meta = _map(pod.get("metadata"))
    return f"{meta.get('name')}_{meta.get('namespace') or 'default'}({meta.get('uid') or ''})"


async def verify_run_as_non_root(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, host_os: str, image: str,
    image_user: Callable[[str], Awaitable[str]],
) -> None:
    """Raise ContainerConfigError (CreateContainerConfigError) when the container asks to run
    as non-root and would run as root, in the kubelet's words (verifyRunAsNonRoot)."""
    pod_sc, sc = _contexts(pod, container)
    if _effective(pod_sc, sc, "runAsNonRoot") is not True:
        return
    where = f"(pod: \"{_pod_name(pod)}\", container: {container.get('name')})"
    if host_os == "windows":
        named = effective_windows_options(pod_sc, sc).get("runAsUserName")
        user = str(named) if named else await image_user(image)
        if user.lower() == WINDOWS_ADMIN.lower():
            which = "runAsUserName" if named else "image's user"
            raise ContainerConfigError(f"container's {which} ({user}) which will be regarded as root identity "
                                       f"and will break non-root policy {where}")
        return
    uid = _effective(pod_sc, sc, "runAsUser")
    if uid is not None:
        if uid == 0:
            raise ContainerConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    user = (await image_user(image)).partition(":")[0]
    if user in ("", "0"):
        raise ContainerConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if not user.isdigit():
        raise ContainerConfigError(f"container has runAsNonRoot and image has non-numeric user ({user}), "
                                   f"cannot verify user is non-root {where}")
