"""Pod Security levels per namespace, as Kubernetes' Pod Security Admission has them.

A namespace's label ``pod-security.kubernetes.io/enforce`` names its level:

- ``privileged``: anything goes;
- ``baseline`` (the default, ``--pod-security-default``): no known privilege escalation:
  no privileged containers, host namespaces, hostPath volumes, added capabilities beyond the
  container runtime's default set, HostProcess, Unconfined seccomp, unsafe sysctls, custom
  SELinux users/roles or /proc mounts;
- ``restricted``: baseline, and pods run as non-root with privilege escalation off,
  capabilities dropped (``ALL``), a RuntimeDefault/Localhost seccomp profile, and only the
  volume types that carry no host access.

The checks follow the Pod Security Standards (k8s.io/pod-security-admission, policy
version "latest") field for field, with one difference the issue asked for: host ports.
Kubernetes' baseline refuses every ``hostPort``; Mixfleet's baseline refuses host ports
below 1024 (the privileged range), and a namespace may allow some of them by listing them
in its annotation ``pod-security.mixfleet.io/allowed-host-ports`` ("80,443"); restricted
refuses every host port not so listed.

Every check reads the pod spec (a Pod's ``spec``, or a workload's pod template) and reports
a FieldError naming the field and the namespace's level; ``check`` finds the pod spec of
every kind that carries one. Pure: the registry gives it the namespace's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
ALLOWED_HOST_PORTS = "pod-security.mixfleet.io/allowed-host-ports"

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
DEFAULT_LEVEL = BASELINE

# The capabilities Docker and containerd give a container by default: adding them again
# grants nothing (Pod Security Standards, "Capabilities").
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
})
PRIVILEGED_PORTS_BELOW = 1024

# Where each kind keeps its pod spec (the path of the pod template's spec).
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True)
class Policy:
    """What a namespace enforces: its level and the host ports it allows."""

    namespace: str
    level: str
    allowed_host_ports: frozenset[int] = frozenset()


def policy_of(namespace: Mapping[str, Any], default: str = DEFAULT_LEVEL) -> Policy:
    """The policy of a Namespace object (already validated: see ``namespace_errors``)."""
    meta = namespace.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    level = str(labels.get(ENFORCE_LABEL) or default)
    ports = _ports(str(annotations.get(ALLOWED_HOST_PORTS) or ""))
    return Policy(str(meta.get("name") or ""), level, frozenset(ports or ()))


def namespace_errors(namespace: Mapping[str, Any]) -> list[FieldError]:
    """A Namespace's Pod Security label and annotation, checked at write."""
    meta = _map(namespace.get("metadata"))
    labels, annotations = _map(meta.get("labels")), _map(meta.get("annotations"))
    errs: list[FieldError] = []
    level = labels.get(ENFORCE_LABEL)
    if level is not None and level not in LEVELS:
        errs.append(FieldError(child("metadata.labels", ENFORCE_LABEL),
                               f'invalid value "{level}": must be one of {", ".join(LEVELS)}'))
    version = labels.get(VERSION_LABEL)
    if version is not None and version != "latest" and not _is_k8s_version(str(version)):
        errs.append(FieldError(child("metadata.labels", VERSION_LABEL),
                               f'invalid value "{version}": must be "latest" or a version like "v1.31" '
                               "(Mixfleet enforces one policy version, Kubernetes' latest)"))
    for key in labels:
        if str(key).startswith("pod-security.kubernetes.io/") and key not in (ENFORCE_LABEL, VERSION_LABEL):
            errs.append(FieldError(child("metadata.labels", str(key)),
                                   "not supported by Mixfleet: only the enforce mode "
                                   f"({ENFORCE_LABEL}) is honoured; warn and audit are not"))
    raw = annotations.get(ALLOWED_HOST_PORTS)
    if raw is not None and _ports(str(raw)) is None:
        errs.append(FieldError(child("metadata.annotations", ALLOWED_HOST_PORTS),
                               f'invalid value "{raw}": must be port numbers 1-65535 separated by commas'))
    return errs


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """``obj``'s pod spec (a Pod's spec, a workload's template spec); None for other kinds."""
    spec: Any = obj
    for key in POD_SPEC_PATHS.get(str(obj.get("kind")), ("-",)):
        spec = spec.get(key) if isinstance(spec, dict) else None
    return spec if isinstance(spec, dict) else None


def check(obj: Mapping[str, Any], policy: Policy) -> list[FieldError]:
    """Every field of ``obj``'s pod spec that ``policy`` forbids; [] for kinds without one."""
    spec = pod_spec(obj)
    if spec is None or policy.level == PRIVILEGED:
        return []
    where = ".".join(POD_SPEC_PATHS[str(obj.get("kind"))])
    found: list[tuple[str, str]] = []
    for rule in _BASELINE + (_RESTRICTED if policy.level == RESTRICTED else ()):
        found.extend(rule(spec, where, policy))
    return [
        FieldError(p, f'forbidden by Pod Security level "{policy.level}" of namespace '
                      f'"{policy.namespace}" ({why}); see the label {ENFORCE_LABEL}')
        for p, why in found
    ]


# ---- the checks: each yields (field path, what is forbidden) -------------------------------

Found = Iterator[tuple[str, str]]
Rule = Callable[[dict[str, Any], str, Policy], Found]


def _containers(spec: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(field) or ()):
            if isinstance(c, dict):
                yield item(child(where, field), i), c


def _at(path: str, dotted: str) -> str:
    for key in dotted.split("."):
        path = child(path, key)
    return path


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_windows(spec: dict[str, Any]) -> bool:
    # As Pod Security Admission: Linux-only restricted checks skip pods that say they are
    # Windows pods (spec.os.name).
    return _map(spec.get("os")).get("name") == "windows"


def _security_contexts(spec: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The pod's securityContext and each container's, with their paths."""
    yield child(where, "securityContext"), _map(spec.get("securityContext"))
    for path, c in _containers(spec, where):
        yield child(path, "securityContext"), _map(c.get("securityContext"))


def _host_namespaces(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            yield child(where, field), "host namespaces"


def _privileged(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, c in _containers(spec, where):
        if _map(c.get("securityContext")).get("privileged") is True:
            yield child(child(path, "securityContext"), "privileged"), "privileged containers"


def _added_capabilities(spec: dict[str, Any], where: str, policy: Policy) -> Found:
    restricted = policy.level == RESTRICTED
    allowed = frozenset({"NET_BIND_SERVICE"}) if restricted else BASELINE_CAPABILITIES
    why = "added capabilities other than NET_BIND_SERVICE" if restricted else (
        "added capabilities beyond the default set")
    for path, c in _containers(spec, where):
        caps = _map(_map(c.get("securityContext")).get("capabilities"))
        for i, cap in enumerate(caps.get("add") or ()):
            if str(cap) not in allowed:
                yield item(_at(child(path, "securityContext"), "capabilities.add"), i), f"{why}: {cap}"


def _host_path(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for i, v in enumerate(spec.get("volumes") or ()):
        if isinstance(v, dict) and v.get("hostPath") is not None:
            yield child(item(child(where, "volumes"), i), "hostPath"), "hostPath volumes"


def _host_ports(spec: dict[str, Any], where: str, policy: Policy) -> Found:
    for path, c in _containers(spec, where):
        for i, p in enumerate(c.get("ports") or ()):
            port = _map(p).get("hostPort")
            if not isinstance(port, int) or port == 0 or port in policy.allowed_host_ports:
                continue
            if policy.level == RESTRICTED:
                yield child(item(child(path, "ports"), i), "hostPort"), (
                    f"host port {port}; allow it with the annotation {ALLOWED_HOST_PORTS}")
            elif port < PRIVILEGED_PORTS_BELOW:
                yield child(item(child(path, "ports"), i), "hostPort"), (
                    f"host ports below {PRIVILEGED_PORTS_BELOW}: {port}; allow it with the annotation "
                    f"{ALLOWED_HOST_PORTS}")


def _host_process(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, sc in _security_contexts(spec, where):
        if _map(sc.get("windowsOptions")).get("hostProcess") is True:
            yield _at(path, "windowsOptions.hostProcess"), "Windows HostProcess containers"


def _seccomp_unconfined(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, sc in _security_contexts(spec, where):
        if _map(sc.get("seccompProfile")).get("type") == "Unconfined":
            yield _at(path, "seccompProfile.type"), "seccomp profile Unconfined"


def _app_armor(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, sc in _security_contexts(spec, where):
        if _map(sc.get("appArmorProfile")).get("type") == "Unconfined":
            yield _at(path, "appArmorProfile.type"), "AppArmor profile Unconfined"


def _se_linux(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, sc in _security_contexts(spec, where):
        opts = _map(sc.get("seLinuxOptions"))
        if str(opts.get("type") or "") not in SELINUX_TYPES:
            yield _at(path, "seLinuxOptions.type"), f"SELinux type {opts.get('type')}"
        for field in ("user", "role"):
            if opts.get(field):
                yield _at(path, f"seLinuxOptions.{field}"), f"custom SELinux {field}"


def _proc_mount(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, c in _containers(spec, where):
        mount = _map(c.get("securityContext")).get("procMount")
        if mount not in (None, "", "Default"):
            yield child(child(path, "securityContext"), "procMount"), f"/proc mount type {mount}"


def _sysctls(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for i, s in enumerate(_map(spec.get("securityContext")).get("sysctls") or ()):
        name = _map(s).get("name")
        if name not in SAFE_SYSCTLS:
            yield item(_at(where, "securityContext.sysctls"), i), f"unsafe sysctl {name}"


def _restricted_volumes(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for i, v in enumerate(spec.get("volumes") or ()):
        for source in _map(v):
            if source != "name" and source != "hostPath" and source not in RESTRICTED_VOLUMES:
                yield child(item(child(where, "volumes"), i), source), f"volume type {source}"


def _privilege_escalation(spec: dict[str, Any], where: str, _: Policy) -> Found:
    if _is_windows(spec):
        return
    for path, c in _containers(spec, where):
        if _map(c.get("securityContext")).get("allowPrivilegeEscalation") is not False:
            yield child(child(path, "securityContext"), "allowPrivilegeEscalation"), (
                "privilege escalation: must be false")


def _run_as_non_root(spec: dict[str, Any], where: str, _: Policy) -> Found:
    pod_says = _map(spec.get("securityContext")).get("runAsNonRoot")
    for path, c in _containers(spec, where):
        says = _map(c.get("securityContext")).get("runAsNonRoot")
        if says is False or (says is None and pod_says is not True):
            yield child(child(path, "securityContext"), "runAsNonRoot"), "running as root: must be true"


def _run_as_root_user(spec: dict[str, Any], where: str, _: Policy) -> Found:
    for path, sc in _security_contexts(spec, where):
        if sc.get("runAsUser") == 0:
            yield child(path, "runAsUser"), "running as user 0 (root)"


def _seccomp_required(spec: dict[str, Any], where: str, _: Policy) -> Found:
    if _is_windows(spec):
        return
    pod_type = _map(_map(spec.get("securityContext")).get("seccompProfile")).get("type")
    for path, c in _containers(spec, where):
        own = _map(_map(c.get("securityContext")).get("seccompProfile")).get("type")
        if (own or pod_type) not in ("RuntimeDefault", "Localhost"):
            yield _at(child(path, "securityContext"), "seccompProfile.type"), (
                "no seccomp profile: must be RuntimeDefault or Localhost")


def _drop_all(spec: dict[str, Any], where: str, _: Policy) -> Found:
    if _is_windows(spec):
        return
    for path, c in _containers(spec, where):
        caps = _map(_map(c.get("securityContext")).get("capabilities"))
        if "ALL" not in [str(x) for x in caps.get("drop") or ()]:
            yield _at(child(path, "securityContext"), "capabilities.drop"), (
                'capabilities kept: must drop "ALL"')


_BASELINE: tuple[Rule, ...] = (
    _host_namespaces, _privileged, _added_capabilities, _host_path, _host_ports, _host_process, _seccomp_unconfined, _app_armor, _se_linux,
    _proc_mount, _sysctls,
)
_RESTRICTED: tuple[Rule, ...] = (
    _restricted_volumes, _privilege_escalation, _run_as_non_root, _run_as_root_user,
    _seccomp_required, _drop_all,
)


def _ports(raw: str) -> set[int] | None:
    out: set[int] = set()
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 65535:
            return None
        out.add(int(part))
    return out


def _is_k8s_version(v: str) -> bool:
    major, _, minor = v.removeprefix("v").partition(".")
    return v.startswith("v") and major.isdigit() and minor.isdigit()
