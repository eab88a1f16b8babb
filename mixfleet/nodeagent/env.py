"""A container's environment, as the kubelet's ``makeEnvironmentVariables`` builds it:
first ``envFrom`` (every key of each ConfigMap or Secret, with its ``prefix``, in order),
then ``env`` (later names win), where a value may use ``$(NAME)`` of a variable defined
before it (``$$`` is a literal ``$``; an unknown name is left as it is), and ``valueFrom``
reads a ConfigMap or Secret key, a field of the pod (``fieldRef``) or a resource of a
container (``resourceFieldRef``, limits falling back to the node's allocatable).

A missing object or key is a ContainerConfigError with the kubelet's words (the container
waits in CreateContainerConfigError), unless the reference is ``optional``. Errors name
objects and keys, never a value.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

from mixfleet.api import quantity
from mixfleet.api.configdata import decoded
from mixfleet.nodeagent.volumes.errors import ContainerConfigError
from mixfleet.nodeagent.volumes.sources import ObjectGetter

_FIELD_KEY = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_EXPAND = re.compile(r"\$\$|\$\(([^)]*)\)")


def expand(value: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (third_party/forked/golang/expansion)."""

    def one(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        return defined.get(m[1], m[0])

    return _EXPAND.sub(one, value)


class EnvResolver:
    def __init__(
        self,
        get_object: ObjectGetter,
        *,
        node_name: str,
        host_ip: Callable[[], str] = lambda: "",
        allocatable: Callable[[], Mapping[str, str]] = lambda: {},
    ) -> None:
        self.get_object = get_object
        self.node_name = node_name
        self.host_ip = host_ip
        self.allocatable = allocatable

    async def environment(
        self, pod: Mapping[str, Any], container: Mapping[str, Any]
    ) -> dict[str, str]:
        ns = str((pod.get("metadata") or {}).get("namespace") or "default")
        env: dict[str, str] = {}
        for source in container.get("envFrom") or ():
            env.update(await self._from(ns, source))
        for var in container.get("env") or ():
            name = str(var.get("name") or "")
            if not name:
                continue
            ref = var.get("valueFrom")
            if ref:
                value = await self._value_from(pod, container, ns, ref)
                if value is None:
                    continue  # an optional reference to something absent: no variable
                env[name] = value
            else:
                env[name] = expand(str(var.get("value") or ""), env)
        return env

    async def _from(self, ns: str, source: Mapping[str, Any]) -> dict[str, str]:
        prefix = str(source.get("prefix") or "")
        for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(field)
            if not ref:
                continue
            obj = await self._object(kind, ns, ref)
            return {prefix + k: v for k, v in _values(kind, obj).items()} if obj is not None else {}
        return {}

    async def _object(self, kind: str, ns: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        name = str(ref.get("name") or "")
        obj = await self.get_object(kind, ns, name)
        if obj is None and not ref.get("optional"):
            raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
        return obj

    async def _value_from(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], ns: str, ref: Mapping[str, Any]
    ) -> str | None:
        for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            key_ref = ref.get(field)
            if not key_ref:
                continue
            obj = await self._object(kind, ns, key_ref)
            if obj is None:
                return None
            key = str(key_ref.get("key") or "")
            values = _values(kind, obj)
            if key not in values:
                if key_ref.get("optional"):
                    return None
                raise ContainerConfigError(f"couldn't find key {key} in {kind} {ns}/{key_ref.get('name')}")
            return values[key]
        if ref.get("fieldRef"):
            return self._field(pod, str(ref["fieldRef"].get("fieldPath") or ""))
        if ref.get("resourceFieldRef"):
            return self._resource(pod, container, ref["resourceFieldRef"])
        return None

    def _field(self, pod: Mapping[str, Any], path: str) -> str:
        meta, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
        m = _FIELD_KEY.match(path)
        if m:
            return str((meta.get(m[1]) or {}).get(m[2], ""))
        simple = {
            "metadata.name": meta.get("name"),
            "metadata.namespace": meta.get("namespace") or "default",
            "metadata.uid": meta.get("uid"),
            "spec.nodeName": spec.get("nodeName") or self.node_name,
            "status.hostIP": status.get("hostIP") or self.host_ip(),
            "status.podIP": status.get("podIP"),
        }
        if path not in simple:  # validation refuses these; the kubelet's words if one slips by
            raise ContainerConfigError(f"unsupported fieldPath: {path}")
        return str(simple[path] or "")

    def _resource(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], ref: Mapping[str, Any]
    ) -> str:
        target = container
        if ref.get("containerName"):
            target = next((c for c in (pod.get("spec") or {}).get("containers") or ()
                           if c.get("name") == ref["containerName"]), container)
        part, _, resource = str(ref.get("resource") or "").partition(".")
        given = ((target.get("resources") or {}).get(part) or {}).get(resource)
        if given is None and part == "limits":
            given = self.allocatable().get(resource)  # no limit: the node's, as the kubelet
        divisor = quantity.parse(ref.get("divisor") or "1")
        value = quantity.parse(given) if given is not None else 0
        return str(math.ceil(value / divisor))


def _values(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The string values of a ConfigMap (``data``: the kubelet leaves ``binaryData`` out of
    the environment) or a Secret (``data``, base64 decoded)."""
    data = obj.get("data") or {}
    if kind == "Secret":
        return {k: (decoded(v) or b"").decode(errors="replace") for k, v in data.items()}
    return {str(k): str(v) for k, v in data.items()}
