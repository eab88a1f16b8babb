"""Pod volumes and mounts: the rules the API server has, and the ones the pod's OS sets.

- each ``spec.volumes[]`` has a unique DNS-label name and exactly one source type;
- every ``volumeMounts[].name`` names a volume of the pod; a container's mount paths are
  unique (case-insensitively on Windows, whose paths are);
- a mount path, and a hostPath path, is in the form of the pod's OS: ``/data`` for Linux,
  ``C:\\data`` (or a named pipe ``\\\\.\\pipe\\name``) for Windows. The other OS's form is
  refused, saying which the pod runs on;
- ``subPath`` is relative and never leaves its volume (no ``..``);
- ``configMap``/``secret`` volumes name their object; ``items`` have a key and a relative
  path (no ``..``, unique); modes are 0-0777;
- ``emptyDir.medium`` is "" or ``Memory`` (a tmpfs: Linux only); ``sizeLimit`` is honoured
  as the tmpfs's size, so it is refused on a disk-backed emptyDir, which Mixfleet does not
  measure; ``hostPath.type`` is one of the kubelet's, the device and socket types Linux only.
"""

from __future__ import annotations

import re
from typing import Any

from mixfleet.api import names
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item, show, sub

EMPTYDIR_MEDIA = ("", "Memory")
HOSTPATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                  "CharDevice", "BlockDevice")
_LINUX_ONLY_HOSTPATH_TYPES = ("Socket", "CharDevice", "BlockDevice")
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\\.\\pipe\\)")


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def is_windows_path(path: str) -> bool:
    return bool(_WINDOWS_PATH.match(path))


def path_form_problem(path: str, os_name: str) -> str | None:
    """Why ``path`` is not an absolute path of ``os_name``'s form, or None."""
    if os_name == "windows":
        if is_windows_path(path):
            return None
        if path.startswith("/"):
            return (f"{show(path)} is a Linux path, but this pod's OS is windows: use a Windows "
                    "path such as C:\\data")
        return f"{show(path)} must be an absolute Windows path such as C:\\data"
    if path.startswith("/"):
        return None
    if is_windows_path(path):
        return (f"{show(path)} is a Windows path, but this pod's OS is {os_name}: use a Linux "
                "path such as /data")
    return f"{show(path)} must be an absolute path such as /data"


def validate_pod_volumes(spec: dict[str, Any], path: str, os_name: str | None,
                         containers: list[tuple[str, dict[str, Any]]], errs: list[FieldError]) -> None:
    """``spec`` is a pod spec at ``path``; ``containers`` its (path, container) pairs;
    ``os_name`` None when the pod's OS could not be told (reported elsewhere)."""
    defined = _volumes(spec.get("volumes"), child(path, "volumes"), os_name, errs)
    for cpath, c in containers:
        _mounts(c.get("volumeMounts"), child(cpath, "volumeMounts"), defined, os_name, errs)


def _volumes(volumes: Any, path: str, os_name: str | None, errs: list[FieldError]) -> set[str]:
    seen: set[str] = set()
    for i, v in _items(volumes):
        vpath = item(path, i)
        name = v.get("name")
        if isinstance(name, str) and name:
            for problem in names.dns_label(name):
                errs.append(FieldError(child(vpath, "name"), f"invalid value {show(name)}: {problem}"))
            if name in seen:
                errs.append(FieldError(child(vpath, "name"), f"duplicate value {show(name)}"))
            seen.add(name)
        types = [k for k, val in v.items() if k != "name" and val is not None]
        if not types:
            errs.append(FieldError(vpath, "must specify a volume type"))
        elif len(types) > 1:
            errs.append(FieldError(child(vpath, types[1]), "may not specify more than 1 volume type"))
        _empty_dir(v.get("emptyDir"), child(vpath, "emptyDir"), os_name, errs)
        _host_path(v.get("hostPath"), child(vpath, "hostPath"), os_name, errs)
        _object_files(v.get("configMap"), child(vpath, "configMap"), "name", errs)
        _object_files(v.get("secret"), child(vpath, "secret"), "secretName", errs)
    return seen


def _empty_dir(ed: Any, path: str, os_name: str | None, errs: list[FieldError]) -> None:
    if not isinstance(ed, dict):
        return
    medium = ed.get("medium") or ""
    if medium not in EMPTYDIR_MEDIA:
        errs.append(FieldError(child(path, "medium"),
                               f'unsupported value {show(medium)}: supported values: "", "Memory"'))
    elif medium == "Memory" and os_name == "windows":
        errs.append(FieldError(child(path, "medium"),
                               "Memory (a tmpfs) is Linux only, and this pod's OS is windows"))
    if ed.get("sizeLimit") and medium != "Memory":
        errs.append(FieldError(child(path, "sizeLimit"),
                               "only honoured with medium: Memory (the tmpfs's size); Mixfleet does "
                               "not measure disk-backed emptyDir volumes"))


def _host_path(hp: Any, path: str, os_name: str | None, errs: list[FieldError]) -> None:
    if not isinstance(hp, dict):
        return
    host = hp.get("path")
    if not host:
        errs.append(FieldError(child(path, "path"), "required value"))
    elif isinstance(host, str) and os_name:
        problem = path_form_problem(host, os_name)
        if problem:
            errs.append(FieldError(child(path, "path"), problem))
    kind = hp.get("type") or ""
    if kind not in HOSTPATH_TYPES:
        supported = ", ".join(f'"{t}"' for t in HOSTPATH_TYPES)
        errs.append(FieldError(child(path, "type"), f"unsupported value {show(kind)}: supported values: {supported}"))
    elif kind in _LINUX_ONLY_HOSTPATH_TYPES and os_name == "windows":
        errs.append(FieldError(child(path, "type"), f"{kind} is Linux only, and this pod's OS is windows"))


def _object_files(src: Any, path: str, name_field: str, errs: list[FieldError]) -> None:
    """configMap and secret volumes: their object, items (key -> relative path), modes."""
    if not isinstance(src, dict):
        return
    if not src.get(name_field):
        errs.append(FieldError(child(path, name_field), "required value"))
    _mode(src.get("defaultMode"), child(path, "defaultMode"), errs)
    seen: set[str] = set()
    for i, it in _items(src.get("items")):
        ipath = item(child(path, "items"), i)
        if not it.get("key"):
            errs.append(FieldError(child(ipath, "key"), "required value"))
        target = it.get("path")
        if not target:
            errs.append(FieldError(child(ipath, "path"), "required value"))
        elif isinstance(target, str):
            parts = target.split("/")
            if target.startswith("/"):
                errs.append(FieldError(child(ipath, "path"), f"{show(target)}: must be a relative path"))
            elif ".." in parts or target.startswith(".."):
                errs.append(FieldError(child(ipath, "path"), f"{show(target)}: must not contain '..' or start with '..'"))
            elif target in seen:
                errs.append(FieldError(child(ipath, "path"), f"duplicate value {show(target)}"))
            seen.add(target)
        _mode(it.get("mode"), child(ipath, "mode"), errs)


def _mode(value: Any, path: str, errs: list[FieldError]) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= 0o777:
        errs.append(FieldError(path, f"invalid value {value}: must be a number between 0 and 0777 "
                                     "(octal), both inclusive"))


def _mounts(mounts: Any, path: str, defined: set[str], os_name: str | None,
            errs: list[FieldError]) -> None:
    seen: set[str] = set()
    for i, m in _items(mounts):
        mpath = item(path, i)
        name = m.get("name")
        if isinstance(name, str) and name and name not in defined:
            errs.append(FieldError(child(mpath, "name"), f"volume {show(name)} not found in spec.volumes"))
        target = m.get("mountPath")
        if not target:
            errs.append(FieldError(child(mpath, "mountPath"), "required value"))
        elif isinstance(target, str):
            problem = path_form_problem(target, os_name) if os_name else None
            if problem:
                errs.append(FieldError(child(mpath, "mountPath"), problem))
            norm = target.rstrip("/\\")
            if os_name == "windows":
                norm = norm.replace("/", "\\").lower()
            if norm in seen:
                errs.append(FieldError(child(mpath, "mountPath"), f"{show(target)}: must be unique"))
            seen.add(norm)
        _sub_path(m.get("subPath"), sub(mpath, "subPath"), errs)


def _sub_path(value: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(value, str) or not value:
        return
    if value.startswith(("/", "\\")) or is_windows_path(value):
        errs.append(FieldError(path, f"{show(value)}: must be a relative path"))
    elif ".." in re.split(r"[\\/]", value):
        errs.append(FieldError(path, f"{show(value)}: must not contain '..'"))
