"""Windows gMSA credential specs, as Kubernetes' windows-gmsa admission webhook handles them.

A credential spec (the JSON document ``New-CredentialSpec`` makes) is kept in the cluster as
a cluster-scoped ``GMSACredentialSpec`` (``windows.k8s.io/v1``; its ``credspec`` field is the
document as an object). A pod names one in ``securityContext.windowsOptions.
gmsaCredentialSpecName`` (pod or container level); when a Pod is written the control plane
inlines that spec's document, as compact JSON, into ``gmsaCredentialSpec`` next to the name,
so the node gets it with the pod and Docker gets it as its ``credentialspec`` security option
(nodeagent/engines/credspecs.py). As the webhook: a spec already inlined must match the named
one (as JSON, not byte for byte), a name with no GMSACredentialSpec is refused, and a pod
template is only checked (its pods are inlined when they are made). A later edit of the
GMSACredentialSpec reaches new pods, and a pod applied again (its containers are made anew,
as for any change of its security context), never a running container on its own."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Iterator, Mapping

from mixfleet.api import podsecurity, securitycontext
from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, item, sub

KIND = "GMSACredentialSpec"
# A GMSACredentialSpec by name; None when there is none.
Getter = Callable[[str], Awaitable[Mapping[str, Any] | None]]


def document(spec: Mapping[str, Any]) -> str:
    """A GMSACredentialSpec's credspec as the JSON the engines take (keys sorted, compact)."""
    return json.dumps(spec.get("credspec") or {}, sort_keys=True, separators=(",", ":"))


def _options(spec: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, windowsOptions) of the pod and each container that has them."""
    sc = spec.get("securityContext")
    if isinstance(sc, dict) and isinstance(sc.get("windowsOptions"), dict):
        yield sub(where, "securityContext", "windowsOptions"), sc["windowsOptions"]
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or ()):
            sc = c.get("securityContext") if isinstance(c, dict) else None
            if isinstance(sc, dict) and isinstance(sc.get("windowsOptions"), dict):
                yield sub(item(child(where, field), i), "securityContext", "windowsOptions"), sc["windowsOptions"]


def names(obj: Mapping[str, Any]) -> set[str]:
    """The GMSACredentialSpecs ``obj``'s pod spec names."""
    spec = podsecurity.pod_spec(obj)
    if spec is None:
        return set()
    return {str(o["gmsaCredentialSpecName"]) for _, o in _options(spec, "") if o.get("gmsaCredentialSpecName")}


async def inline(obj: dict[str, Any], get: Getter) -> list[FieldError]:
    """Fill in the credential spec of every gMSA name in a Pod (in place); for pod templates
    check that the names exist. The problems found, each naming its field."""
    spec = podsecurity.pod_spec(obj)
    if spec is None:
        return []
    where = ".".join(podsecurity.POD_SPEC_PATHS[str(obj.get("kind"))])
    errs: list[FieldError] = []
    found: dict[str, Mapping[str, Any] | None] = {}
    for path, opts in _options(spec, where):
        name = opts.get("gmsaCredentialSpecName")
        if not isinstance(name, str) or not name:
            continue
        if name not in found:
            found[name] = await get(name)
        stored = found[name]
        if stored is None:
            errs.append(FieldError(child(path, "gmsaCredentialSpecName"),
                                   f'{KIND} "{name}" does not exist (create it first: kind {KIND}, '
                                   "apiVersion windows.k8s.io/v1)"))
            continue
        wanted = document(stored)
        given = opts.get("gmsaCredentialSpec")
        if isinstance(given, str) and given:
            if securitycontext.credential_spec_object(given) != json.loads(wanted):
                errs.append(FieldError(child(path, "gmsaCredentialSpec"),
                                       f'does not match the contents of {KIND} "{name}"'))
        elif obj.get("kind") == "Pod":
            opts["gmsaCredentialSpec"] = wanted
    return errs
