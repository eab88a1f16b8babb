"""The rules of pod and container ``securityContext``s that a schema cannot say, as the API
server (pkg/apis/core/validation) and the kubelet have them, checked at apply:

- each OS takes its own fields: a Windows pod may not set the Linux ones (``runAsUser``,
  ``runAsGroup``, ``supplementalGroups``, ``capabilities``, ``privileged``,
  ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation``, ``seccompProfile``, ``fsGroup``), a Linux pod
  not ``windowsOptions``; the refusal says which OS the pod runs on;
- user and group ids (``fsGroup`` too) lie in 0..2147483647; ``fsGroupChangePolicy`` is
  ``Always`` or ``OnRootMismatch``; ``runAsGroup`` needs a ``runAsUser`` (Docker
  sets a group only with a user; the CRI runtimes refuse it too);
- ``runAsNonRoot: true`` with ``runAsUser: 0`` (or, on Windows, ``runAsUserName:
  ContainerAdministrator``) can never start: refused here rather than by the node later;
- ``allowPrivilegeEscalation: false`` contradicts ``privileged: true`` and an added
  ``SYS_ADMIN`` (Kubernetes' own rule);
- capabilities are Linux's names (``NET_ADMIN`` or ``CAP_NET_ADMIN``) or ``ALL``: Docker
  refuses any other at container start, where the user would see it late;
- ``seccompProfile.type`` is ``RuntimeDefault`` (Docker's default profile) or
  ``Unconfined``; ``Localhost`` names a file on every node, which Mixfleet does not
  distribute, so it is refused;
- ``windowsOptions.runAsUserName`` is a Windows account name (``[DOMAIN\\]USER``, the
  kubelet's length and character rules); ``gmsaCredentialSpec`` is a JSON object and is set
  only with the ``gmsaCredentialSpecName`` it came from (the windows-gmsa webhook's rule; the
  control plane fills it in from the GMSACredentialSpec, controlplane/gmsa.py).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, show, sub

MAX_ID = 2147483647
# Linux's capabilities (capability.h, 0..40), as Docker knows them; "ALL" means every one.
CAPABILITIES = frozenset({
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
})
SECCOMP_TYPES = ("RuntimeDefault", "Unconfined")
WINDOWS_ADMIN = "ContainerAdministrator"

POD_LINUX_ONLY: tuple[str, ...] = ("runAsUser", "runAsGroup", "supplementalGroups", "fsGroup",
                                   "fsGroupChangePolicy", "seccompProfile")
FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")
CONTAINER_LINUX_ONLY: tuple[str, ...] = ("runAsUser", "runAsGroup", "capabilities", "privileged", "readOnlyRootFilesystem",
                        "allowPrivilegeEscalation", "seccompProfile")

# The kubelet's limits on a Windows user name (validateWindowsSecurityContextOptions).
_USER_NAME_MAX, _USER_PART_MAX, _NETBIOS_MAX, _DNS_MAX = 256, 104, 15, 255
_BAD_USER_CHARS = re.compile(r'["/\\:;|=,+*?<>@\[\]]')
_NETBIOS = re.compile(r"^[^\\/:*?\"<>|]{1,15}$")
_DNS = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Errors = list[FieldError]


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def validate_pod_security(spec: dict[str, Any], path: str, os_name: str | None,
                          containers: list[tuple[str, dict[str, Any]]], errs: Errors) -> None:
    """``spec`` is a pod spec at ``path``; ``containers`` its (path, container) pairs;
    ``os_name`` None when the pod's OS could not be told (reported elsewhere)."""
    mine: Errors = []
    _check(spec, path, os_name, containers, mine)
    for e in mine:  # a pod-level problem found once per container is reported once
        if e not in errs:
            errs.append(e)


def _check(spec: dict[str, Any], path: str, os_name: str | None,
           containers: list[tuple[str, dict[str, Any]]], errs: Errors) -> None:
    pod_path = child(path, "securityContext")
    pod_sc = _map(spec.get("securityContext"))
    contexts = [(pod_path, pod_sc, POD_LINUX_ONLY)]
    contexts += [(child(c_path, "securityContext"), _map(c.get("securityContext")), CONTAINER_LINUX_ONLY)
                 for c_path, c in containers]
    for sc_path, sc, linux_only in contexts:
        if os_name is not None:
            _os_fields(sc, sc_path, os_name, linux_only, errs)
        _ids(sc, sc_path, errs)
        _seccomp(sc, sc_path, errs)
        _windows_options(_map(sc.get("windowsOptions")), child(sc_path, "windowsOptions"), errs)
    for c_path, c in containers:
        sc, sc_path = _map(c.get("securityContext")), child(c_path, "securityContext")
        _group_needs_user(pod_sc, pod_path, sc, sc_path, errs)
        _never_starts(pod_sc, sc, sc_path, errs)
        _capabilities(_map(sc.get("capabilities")), child(sc_path, "capabilities"), errs)
        _escalation(sc, sc_path, errs)


def _os_fields(sc: dict[str, Any], path: str, os_name: str, linux_only: tuple[str, ...], errs: Errors) -> None:
    if os_name == "windows":
        for field in linux_only:
            if sc.get(field) is not None:
                errs.append(FieldError(child(path, field), "cannot be set for a windows pod: a Linux-only "
                                       "setting (Windows containers have no uids, capabilities or seccomp)"))
    elif sc.get("windowsOptions") is not None:
        errs.append(FieldError(child(path, "windowsOptions"), f"cannot be set for a {os_name} pod: "
                               "Windows-only settings (set spec.os.name: windows for a Windows pod)"))


def _ids(sc: dict[str, Any], path: str, errs: Errors) -> None:
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        _id(sc.get(field), child(path, field), errs)
    policy = sc.get("fsGroupChangePolicy")
    if isinstance(policy, str) and policy not in FS_GROUP_CHANGE_POLICIES:
        errs.append(FieldError(child(path, "fsGroupChangePolicy"), f"unsupported value {show(policy)}: supported "
                               "values: " + ", ".join(f'"{p}"' for p in FS_GROUP_CHANGE_POLICIES)))
    groups = sc.get("supplementalGroups")
    for i, g in enumerate(groups if isinstance(groups, list) else ()):
        _id(g, f"{child(path, 'supplementalGroups')}[{i}]", errs)


def _id(value: Any, path: str, errs: Errors) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_ID:
        errs.append(FieldError(path, f"invalid value {value}: must be between 0 and {MAX_ID}, inclusive"))


def _seccomp(sc: dict[str, Any], path: str, errs: Errors) -> None:
    kind = _map(sc.get("seccompProfile")).get("type")
    if kind is None or kind in SECCOMP_TYPES:
        return
    where = sub(path, "seccompProfile", "type")
    if kind == "Localhost":
        errs.append(FieldError(where, "not supported by Mixfleet: a Localhost profile is a file on each node, "
                               "which Mixfleet does not distribute; use RuntimeDefault (Docker's default "
                               "profile) or Unconfined"))
    else:
        errs.append(FieldError(where, f"unsupported value {show(kind)}: supported values: "
                               + ", ".join(f'"{t}"' for t in SECCOMP_TYPES)))


def _group_needs_user(pod_sc: dict[str, Any], pod_path: str, sc: dict[str, Any], sc_path: str,
                      errs: Errors) -> None:
    if _effective(pod_sc, sc, "runAsGroup") is None or _effective(pod_sc, sc, "runAsUser") is not None:
        return
    where = child(sc_path if sc.get("runAsGroup") is not None else pod_path, "runAsGroup")
    errs.append(FieldError(where, "needs runAsUser: Docker sets a container's group only together with "
                           "its user (the CRI runtimes refuse a group alone too)"))


def _never_starts(pod_sc: dict[str, Any], sc: dict[str, Any], sc_path: str, errs: Errors) -> None:
    if _effective(pod_sc, sc, "runAsNonRoot") is not True:
        return
    if _effective(pod_sc, sc, "runAsUser") == 0:
        errs.append(FieldError(child(sc_path, "runAsUser"), "is 0 (root), but runAsNonRoot is true: "
                               "the container could never start"))
    user = effective_windows_options(pod_sc, sc).get("runAsUserName")
    if isinstance(user, str) and user.lower() == WINDOWS_ADMIN.lower():
        errs.append(FieldError(sub(sc_path, "windowsOptions", "runAsUserName"),
                               f"is {WINDOWS_ADMIN}, which Windows regards as root, but runAsNonRoot is "
                               "true: the container could never start"))


def _capabilities(caps: dict[str, Any], path: str, errs: Errors) -> None:
    for field in ("add", "drop"):
        values = caps.get(field)
        for i, cap in enumerate(values if isinstance(values, list) else ()):
            if isinstance(cap, str) and cap != "ALL" and normalize_capability(cap) not in CAPABILITIES:
                errs.append(FieldError(f"{child(path, field)}[{i}]", f"unknown capability {show(cap)}: "
                                       "use a Linux capability's name such as NET_ADMIN (or CAP_NET_ADMIN), "
                                       "or ALL"))


def _escalation(sc: dict[str, Any], path: str, errs: Errors) -> None:
    if sc.get("allowPrivilegeEscalation") is not False:
        return
    where = child(path, "allowPrivilegeEscalation")
    if sc.get("privileged") is True:
        errs.append(FieldError(where, "cannot be false when privileged is true"))
    added = _map(sc.get("capabilities")).get("add")
    if any(isinstance(c, str) and normalize_capability(c) == "SYS_ADMIN"
           for c in (added if isinstance(added, list) else ())):
        errs.append(FieldError(where, "cannot be false when capabilities.add has SYS_ADMIN"))


def _windows_options(opts: dict[str, Any], path: str, errs: Errors) -> None:
    user = opts.get("runAsUserName")
    if isinstance(user, str):
        for problem in user_name_problems(user):
            errs.append(FieldError(child(path, "runAsUserName"), f"invalid value {show(user)}: {problem}"))
    contents = opts.get("gmsaCredentialSpec")
    if isinstance(contents, str) and contents:
        where = child(path, "gmsaCredentialSpec")
        if not opts.get("gmsaCredentialSpecName"):
            errs.append(FieldError(where, "is set, but gmsaCredentialSpecName, the GMSACredentialSpec it "
                                   "comes from, is not: set the name (the control plane fills this in)"))
        elif credential_spec_object(contents) is None:
            errs.append(FieldError(where, "must be a JSON object (a credential spec document)"))


def user_name_problems(name: str) -> Iterator[str]:
    """Why ``name`` is not a Windows account name the kubelet accepts."""
    if not name:
        yield "must not be empty"
        return
    if len(name) > _USER_NAME_MAX:
        yield f"must be at most {_USER_NAME_MAX} characters"
    if _CONTROL.search(name):
        yield "must not contain control characters"
    if name.count("\\") > 1:
        yield "must not contain more than one backslash (DOMAIN\\USER)"
        return
    domain, _, user = name.rpartition("\\")
    if "\\" in name and not (_NETBIOS.match(domain) or _DNS.match(domain)):
        yield (f"domain {show(domain)} must be a NetBIOS name (at most {_NETBIOS_MAX} characters) "
               f"or a DNS name (at most {_DNS_MAX})")
    if not user:
        yield "the user name after the domain must not be empty"
    elif len(user) > _USER_PART_MAX:
        yield f"the user name must be at most {_USER_PART_MAX} characters"
    elif _BAD_USER_CHARS.search(user):
        yield 'the user name must not contain any of " / \\ : ; | = , + * ? < > @ [ ]'
    elif not user.strip(". "):
        yield "the user name must not consist of dots and spaces only"


def normalize_capability(cap: str) -> str:
    """``CAP_NET_ADMIN`` and ``NET_ADMIN`` alike: the name without Linux's prefix."""
    return cap.removeprefix("CAP_")


def credential_spec_object(contents: str) -> dict[str, Any] | None:
    try:
        value = json.loads(contents)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _effective(pod_sc: dict[str, Any], sc: dict[str, Any], field: str) -> Any:
    """A container's own setting wins over the pod's (Kubernetes'
    DetermineEffectiveSecurityContext)."""
    own = sc.get(field)
    return own if own is not None else pod_sc.get(field)


def effective_windows_options(pod_sc: dict[str, Any], sc: dict[str, Any]) -> dict[str, Any]:
    """windowsOptions merged field by field, the container's winning."""
    merged = dict(_map(pod_sc.get("windowsOptions")))
    merged.update({k: v for k, v in _map(sc.get("windowsOptions")).items() if v is not None})
    return merged
