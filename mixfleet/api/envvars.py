"""A container's ``env`` and ``envFrom``: the API server's rules for what the node agent
resolves (nodeagent/env.py).

- an ``env[]`` has a ``name``, and ``value`` or ``valueFrom``, not both; a ``valueFrom`` has
  exactly one source; key references name their object and key;
- ``fieldRef.fieldPath`` is one of ``metadata.name``, ``metadata.namespace``,
  ``metadata.uid``, ``metadata.labels['KEY']``, ``metadata.annotations['KEY']``,
  ``spec.nodeName``, ``status.hostIP``, ``status.podIP``;
- ``resourceFieldRef.resource`` is ``limits.cpu``, ``limits.memory``, ``requests.cpu`` or
  ``requests.memory``, its ``divisor`` one the API server allows for that resource, its
  ``containerName`` a container of the pod;
- an ``envFrom[]`` has exactly one of ``configMapRef`` and ``secretRef``, with a name.
"""

from __future__ import annotations

import re
from typing import Any

from mixfleet.api import quantity
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item, show

FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
               "status.hostIP", "status.podIP")
_KEYED_FIELD = re.compile(r"^metadata\.(labels|annotations)\['[^']+'\]$")
RESOURCES = ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")
_CPU_DIVISORS = ("1m", "1")
_MEMORY_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
_VALUE_SOURCES = ("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef")


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def validate_env(c: dict[str, Any], path: str, containers: set[Any], errs: list[FieldError]) -> None:
    """``c`` is a container at ``path``; ``containers`` the names of the pod's containers."""
    for i, var in _items(c.get("env")):
        vpath = item(child(path, "env"), i)
        ref = var.get("valueFrom")
        if not isinstance(ref, dict) or not ref:
            continue
        if var.get("value"):
            errs.append(FieldError(child(vpath, "valueFrom"), "may not be specified when `value` is not empty"))
        given = [k for k in _VALUE_SOURCES if ref.get(k)]
        rpath = child(vpath, "valueFrom")
        if len(given) != 1:
            errs.append(FieldError(rpath, "must specify exactly one of: " + ", ".join(f"`{k}`" for k in _VALUE_SOURCES)))
            continue
        source, spath = ref[given[0]], child(rpath, given[0])
        if not isinstance(source, dict):
            continue  # the schema reports the type
        if given[0] in ("configMapKeyRef", "secretKeyRef"):
            for key in ("name", "key"):
                if not source.get(key):
                    errs.append(FieldError(child(spath, key), "required value"))
        elif given[0] == "fieldRef":
            _field_path(source.get("fieldPath"), child(spath, "fieldPath"), errs)
        else:
            _resource_field(source, spath, containers, errs)
    for i, src in _items(c.get("envFrom")):
        spath = item(child(path, "envFrom"), i)
        refs = [k for k in ("configMapRef", "secretRef") if src.get(k)]
        if len(refs) != 1:
            errs.append(FieldError(spath, "must specify exactly one of: `configMapRef`, `secretRef`"))
        elif isinstance(src[refs[0]], dict) and not src[refs[0]].get("name"):
            errs.append(FieldError(child(child(spath, refs[0]), "name"), "required value"))
        prefix = src.get("prefix")
        if isinstance(prefix, str) and "=" in prefix:
            errs.append(FieldError(child(spath, "prefix"), f"invalid value {show(prefix)}: must not contain '='"))


def _field_path(value: Any, path: str, errs: list[FieldError]) -> None:
    if not value:
        errs.append(FieldError(path, "required value"))
    elif value not in FIELD_PATHS and not _KEYED_FIELD.match(str(value)):
        errs.append(FieldError(path, f"unsupported value {show(value)}: supported values: "
                                     f"{_choices(FIELD_PATHS)}, \"metadata.labels['KEY']\", "
                                     "\"metadata.annotations['KEY']\""))


def _resource_field(ref: dict[str, Any], path: str, containers: set[Any], errs: list[FieldError]) -> None:
    resource = ref.get("resource")
    if resource not in RESOURCES:
        errs.append(FieldError(child(path, "resource"),
                               f"unsupported value {show(resource)}: supported values: {_choices(RESOURCES)}"))
        return
    name = ref.get("containerName")
    if name and name not in containers:
        errs.append(FieldError(child(path, "containerName"), f"container {show(name)} not found"))
    divisor = ref.get("divisor")
    if divisor in (None, "", 0):
        return
    allowed = _CPU_DIVISORS if str(resource).endswith("cpu") else _MEMORY_DIVISORS
    try:
        ok = any(quantity.parse(divisor) == quantity.parse(d) for d in allowed)
    except ValueError:
        return  # the schema reports a malformed quantity
    if not ok:
        errs.append(FieldError(child(path, "divisor"),
                               f"unsupported value {show(divisor)}: supported values: {_choices(allowed)}"))
