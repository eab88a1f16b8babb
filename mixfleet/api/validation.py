"""Validation of whole objects: ``validate(obj)`` on every write, ``validate_update(old, new)``
for the fields that never change.

Two passes. The structural pass (``api.schema``) knows every field of every kind: types,
unknown fields, required fields, enums, ranges, quantities, versions. The semantic pass
below checks what a schema cannot say: naming rules, requests <= limits, unique container
names, toleration and selector consistency, a Deployment's selector matching its template,
``spec.platform`` agreeing with the pod's other ways of naming its OS. Both passes report
every problem they find (a user fixes a manifest once, not once per error), and the
semantic pass skips values the structural pass already rejected.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from mixfleet.api import (
    batch, bindings, claims, configdata, envvars, names, podsecurity, probes, quantity, schema,
    securitycontext,
    selectors, supported, volumes,
)
from mixfleet.api.errors import FieldError
from mixfleet.api.kinds import ACCEPTED_API_VERSIONS, KINDS, UnknownKindError, by_kind
from mixfleet.api.pods import PodFactError, pod_os
from mixfleet.api.schema import child, item, show, sub
from mixfleet.api.versions import InvalidVersionError, WindowsVersion

Errors = list[FieldError]

ANNOTATIONS_MAX_BYTES = 256 * 1024
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, element) for the dict elements of a list; anything else was reported already."""
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _supported(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def validate(obj: Any) -> list[FieldError]:
    """Every problem with ``obj`` (an empty list when it is valid); call after apply_defaults."""
    if not isinstance(obj, dict):
        return [FieldError("", f"an object must be a map, got {schema.type_name(obj)}")]
    errs = _type_meta(obj)
    if errs:
        return errs
    schema.root(obj["kind"], obj["apiVersion"]).check(obj, "", errs)
    errs = configdata.redact(obj, errs)  # the schema's messages quote values
    errs = _with_unsupported(obj, errs)
    _metadata(obj, errs)
    for check in _BY_KIND.get(obj["kind"], ()):
        check(obj, errs)
    return errs


def _with_unsupported(obj: dict[str, Any], errs: Errors) -> Errors:
    """``errs`` plus a "not supported" error for each field Mixfleet does not honour, which
    replaces the schema's errors inside that field (they are moot: the field must go). A
    field unknown to the schema (a typo) keeps just its "unknown field" error."""
    unknown = " ".join(e.message for e in errs if e.message.startswith("unknown field"))
    refused = [e for e in supported.unsupported(obj) if f'"{e.path}"' not in unknown]
    if not refused:
        return errs

    def inside(path: str) -> bool:
        return any(path == r.path or path.startswith((r.path + ".", r.path + "[")) for r in refused)

    return [e for e in errs if not inside(e.path)] + refused


def _type_meta(obj: dict[str, Any]) -> Errors:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    errs: Errors = []
    if kind is None or kind == "":
        errs.append(FieldError("kind", "required value"))
    elif not isinstance(kind, str):
        errs.append(FieldError("kind", f"must be a string, got {schema.type_name(kind)}"))
    else:
        try:
            by_kind(kind)
        except UnknownKindError:
            kinds = _supported(tuple(k.kind for k in KINDS))
            errs.append(FieldError("kind", f"unsupported value {show(kind)}: supported values: {kinds}"))
    if api_version is None or api_version == "":
        errs.append(FieldError("apiVersion", "required value"))
    elif not errs and api_version not in ACCEPTED_API_VERSIONS[str(kind)]:
        accepted = _supported(ACCEPTED_API_VERSIONS[str(kind)])
        errs.append(FieldError(
            "apiVersion", f"unsupported value {show(api_version)} for kind {kind}: supported values: {accepted}"
        ))
    return errs


def _metadata(obj: dict[str, Any], errs: Errors) -> None:
    meta = obj.get("metadata")
    if meta is None:
        errs.append(FieldError("metadata", "required value"))
        return
    if not isinstance(meta, dict):
        return
    kind = by_kind(obj["kind"])
    name = meta.get("name")
    if (name is None or name == "") and not meta.get("generateName"):
        errs.append(FieldError("metadata.name", "required value"))
    elif isinstance(name, str) and name:
        rule = names.dns_label if kind.kind == "Namespace" else names.dns_subdomain
        _named("metadata.name", name, rule, errs)
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        if not kind.namespaced:
            errs.append(FieldError("metadata.namespace", f"must not be set: {kind.kind} is not namespaced"))
        else:
            _named("metadata.namespace", namespace, names.dns_label, errs)
    _labels("metadata.labels", meta.get("labels"), errs)
    _annotations("metadata.annotations", meta.get("annotations"), errs)


def _named(path: str, value: str, rule: Callable[[str], list[str]], errs: Errors) -> None:
    for problem in rule(value):
        errs.append(FieldError(path, f"invalid value {show(value)}: {problem}"))


def _labels(path: str, labels: Any, errs: Errors) -> None:
    for key, value in _map(labels).items():
        _named(path, str(key), names.qualified_name, errs)
        if isinstance(value, str):
            _named(child(path, str(key)), value, names.label_value, errs)


def _annotations(path: str, annotations: Any, errs: Errors) -> None:
    annotations = _map(annotations)
    for key in annotations:
        _named(path, str(key), names.qualified_name, errs)
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        errs.append(FieldError(path, f"too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes"))


def _pod(obj: dict[str, Any], errs: Errors) -> None:
    _pod_spec(obj, "spec", errs)


def _pod_spec(pod: dict[str, Any], path: str, errs: Errors) -> None:
    """``pod`` is the Pod or pod template (with metadata and spec); ``path`` names its spec."""
    spec = _map(pod.get("spec"))
    containers = [(child(path, "initContainers"), i, c) for i, c in _items(spec.get("initContainers"))]
    containers += [(child(path, "containers"), i, c) for i, c in _items(spec.get("containers"))]
    seen: set[str] = set()
    for list_path, i, c in containers:
        _container(c, item(list_path, i), seen, errs)
    for i, t in _items(spec.get("tolerations")):
        _toleration(t, item(child(path, "tolerations"), i), errs)
    _labels(child(path, "nodeSelector"), spec.get("nodeSelector"), errs)
    _affinity(_map(spec.get("affinity")), child(path, "affinity"), errs)
    names_ = {c.get("name") for _, _, c in containers if isinstance(c.get("name"), str)}
    _platform(pod, spec, path, names_, errs)
    try:
        os_name: str | None = pod_os(pod)
    except PodFactError:
        os_name = None  # reported by _platform's checks
    volumes.validate_pod_volumes(spec, path, os_name, [(item(lp, i), c) for lp, i, c in containers], errs)
    for list_path, i, c in containers:
        envvars.validate_env(c, item(list_path, i), names_, errs)
    securitycontext.validate_pod_security(spec, path, os_name, [(item(lp, i), c) for lp, i, c in containers],
                                          errs)


def _container(c: dict[str, Any], path: str, seen: set[str], errs: Errors) -> None:
    name = _str(c.get("name"))
    if name:
        _named(child(path, "name"), name, names.dns_label, errs)
        if name in seen:
            errs.append(FieldError(child(path, "name"), f"duplicate value {show(name)}"))
        seen.add(name)
    image = _str(c.get("image"))
    if image and image != image.strip():
        errs.append(FieldError(child(path, "image"), "must not have leading or trailing whitespace"))
    errs += probes.validate_container(c, path)
    resources = _map(c.get("resources"))
    requests, limits = _map(resources.get("requests")), _map(resources.get("limits"))
    for resource, request in requests.items():
        if resource in limits:
            rpath = sub(path, "resources", "requests", resource)
            _request_within_limit(resource, request, limits[resource], rpath, errs)


def _request_within_limit(resource: str, request: Any, limit: Any, path: str, errs: Errors) -> None:
    try:
        over = quantity.parse(request) > quantity.parse(limit)
    except ValueError:
        return  # reported by the structural pass
    if over:
        errs.append(FieldError(
            path, f"invalid value {show(request)}: must be less than or equal to {resource} limit of {limit}"))


def _toleration(t: dict[str, Any], path: str, errs: Errors) -> None:
    key, operator, value = _str(t.get("key")) or "", t.get("operator") or "Equal", t.get("value")
    if key:
        _named(child(path, "key"), key, names.qualified_name, errs)
    elif operator != "Exists":
        errs.append(FieldError(
            child(path, "operator"), f"invalid value {show(operator)}: must be Exists when key is empty"))
    if operator == "Exists" and value:
        errs.append(FieldError(
            child(path, "value"), f"invalid value {show(value)}: must be empty when operator is Exists"))
    if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
        errs.append(FieldError(child(path, "effect"), "must be NoExecute when tolerationSeconds is set"))


def _affinity(affinity: dict[str, Any], path: str, errs: Errors) -> None:
    node = _map(affinity.get("nodeAffinity"))
    npath = child(path, "nodeAffinity")
    required = _map(node.get("requiredDuringSchedulingIgnoredDuringExecution"))
    rpath = sub(npath, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
    for i, term in _items(required.get("nodeSelectorTerms")):
        _expressions(term.get("matchExpressions"), sub(item(rpath, i), "matchExpressions"), errs)
    ppath = child(npath, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, pref in _items(node.get("preferredDuringSchedulingIgnoredDuringExecution")):
        term = _map(pref.get("preference"))
        _expressions(term.get("matchExpressions"), sub(item(ppath, i), "preference", "matchExpressions"), errs)
    anti = _map(affinity.get("podAntiAffinity"))
    apath = sub(path, "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in _items(anti.get("requiredDuringSchedulingIgnoredDuringExecution")):
        _label_selector(term.get("labelSelector"), child(item(apath, i), "labelSelector"), errs)


def _expressions(exprs: Any, path: str, errs: Errors) -> None:
    """Requirements of node selector terms and label selectors (operators checked by schema)."""
    for i, e in _items(exprs):
        epath = item(path, i)
        key, op, values = _str(e.get("key")), e.get("operator"), e.get("values") or []
        if key:
            _named(child(epath, "key"), key, names.qualified_name, errs)
        if op in ("In", "NotIn") and not values:
            errs.append(FieldError(child(epath, "values"), f"must be specified when operator is {op}"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(FieldError(child(epath, "values"), f"may not be specified when operator is {op}"))
        elif op in ("Gt", "Lt") and not _single_integer(values):
            errs.append(FieldError(child(epath, "values"), f"must be a single integer when operator is {op}"))


def _single_integer(values: Any) -> bool:
    return isinstance(values, list) and len(values) == 1 and str(values[0]).lstrip("-").isdigit()


def _label_selector(sel: Any, path: str, errs: Errors) -> None:
    sel = _map(sel)
    _labels(child(path, "matchLabels"), sel.get("matchLabels"), errs)
    _expressions(sel.get("matchExpressions"), child(path, "matchExpressions"), errs)


def _platform(pod: dict[str, Any], spec: dict[str, Any], path: str, containers: set[Any], errs: Errors) -> None:
    platform = _map(spec.get("platform"))
    ppath = child(path, "platform")
    _os_agrees(platform.get("os"), spec, ppath, errs)
    try:
        os_name = pod_os(pod)
    except PodFactError:
        return  # the field's own schema check reports the value
    for key in ("isolation", "osVersion"):
        if platform.get(key) is not None and os_name != "windows":
            errs.append(FieldError(child(ppath, key), f"only valid for windows pods (this pod's OS is {os_name})"))
    if platform.get("minKernelVersion") is not None and os_name != "linux":
        errs.append(FieldError(
            child(ppath, "minKernelVersion"), f"only valid for linux pods (this pod's OS is {os_name})"))
    seen = set()
    for i, o in _items(platform.get("imageOverrides")):
        opath = item(child(ppath, "imageOverrides"), i)
        target = _str(o.get("container"))  # another type: reported by the schema check
        if target is not None and target not in containers:
            errs.append(FieldError(child(opath, "container"), f"container {show(target)} not found"))
        try:  # one image per build and container: the revision does not tell images apart
            build: int | None = WindowsVersion.parse(str(o.get("osVersion", ""))).build
        except InvalidVersionError:
            build = None  # the schema check reports the value
        if (build, target) in seen:
            errs.append(FieldError(child(opath, "osVersion"), f"duplicate value {show(o.get('osVersion'))}"))
        seen.add((build, target))
    for name in _map(_map(spec.get("binding")).get("images")):
        if name not in containers:
            errs.append(FieldError(sub(path, "binding", "images", name), f"container {show(name)} not found"))


def _os_agrees(platform_os: Any, spec: dict[str, Any], path: str, errs: Errors) -> None:
    if not isinstance(platform_os, str):
        return
    others = (
        ("spec.os.name", _map(spec.get("os")).get("name")),
        ("nodeSelector kubernetes.io/os", _map(spec.get("nodeSelector")).get("kubernetes.io/os")),
    )
    for where, value in others:
        if isinstance(value, str) and value and value != platform_os:
            errs.append(FieldError(
                child(path, "os"), f"{show(platform_os)} conflicts with {where} {show(value)}"))


def _workload(obj: dict[str, Any], errs: Errors) -> None:
    """Deployment and ReplicaSet: selector, template, and the template's labels agreeing."""
    spec = _map(obj.get("spec"))
    selector = spec.get("selector")
    _label_selector(selector, "spec.selector", errs)
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    _pod_spec(template, "spec.template.spec", errs)
    _labels("spec.template.metadata.labels", _map(template.get("metadata")).get("labels"), errs)
    # The pods made from the template carry these: refuse them here, not at every pod create.
    _annotations("spec.template.metadata.annotations", _map(template.get("metadata")).get("annotations"), errs)
    policy = _map(template.get("spec")).get("restartPolicy")
    if policy not in (None, "Always"):
        errs.append(FieldError(
            "spec.template.spec.restartPolicy", f'unsupported value {show(policy)}: supported values: "Always"'))
    if isinstance(selector, dict):
        _selector_matches(selector, _map(template.get("metadata")).get("labels"), errs)


def _selector_matches(selector: dict[str, Any], labels: Any, errs: Errors) -> None:
    if not selector:
        return  # reported as a required value
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(FieldError("spec.selector", "empty selector is invalid: it would select every pod"))
        return
    labels_, exprs = selector.get("matchLabels"), selector.get("matchExpressions")
    if not isinstance(labels_ or {}, dict) or not isinstance(exprs or [], list):
        return  # the wrong types are reported by the schema check
    try:
        compiled = selectors.from_dict(selector)
    except ValueError:
        return  # the selector's own problems are reported above
    if not compiled.matches({k: v for k, v in _map(labels).items() if isinstance(v, str)}):
        errs.append(FieldError(
            "spec.template.metadata.labels", f"selector {compiled} does not match template labels"))


def _rolling_update(obj: dict[str, Any], field: str, other: str, errs: Errors) -> None:
    """``spec.<field>`` of a Deployment (strategy, other type Recreate) or a DaemonSet
    (updateStrategy, OnDelete): no rollingUpdate with the other type, and a budget that moves."""
    strategy = _map(_map(obj.get("spec")).get(field))
    rolling = strategy.get("rollingUpdate")
    path = sub("spec", field, "rollingUpdate")
    if strategy.get("type") == other and rolling is not None:
        errs.append(FieldError(path, f"may not be specified when strategy type is {other}"))
        return
    rolling = _map(rolling)
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    if surge in (0, "0%") and unavailable in (0, "0%"):
        errs.append(FieldError(child(path, "maxUnavailable"), "may not be 0 when maxSurge is 0"))
    if isinstance(unavailable, str) and re.fullmatch(r"\d+%", unavailable) and int(unavailable[:-1]) > 100:
        errs.append(FieldError(
            child(path, "maxUnavailable"), f"invalid value {show(unavailable)}: must not be greater than 100%"))


def _strategy(obj: dict[str, Any], errs: Errors) -> None:
    _rolling_update(obj, "strategy", "Recreate", errs)


def _daemonset_strategy(obj: dict[str, Any], errs: Errors) -> None:
    _rolling_update(obj, "updateStrategy", "OnDelete", errs)


def _template(template: Any, path: str, errs: Errors) -> None:
    """A pod template at ``path`` (a Job's): its pod spec, labels and annotations."""
    if not isinstance(template, dict):
        return
    _pod_spec(template, child(path, "spec"), errs)
    tmeta = _map(template.get("metadata"))
    _labels(sub(path, "metadata", "labels"), tmeta.get("labels"), errs)
    _annotations(sub(path, "metadata", "annotations"), tmeta.get("annotations"), errs)


def _job(obj: dict[str, Any], errs: Errors) -> None:
    spec = _map(obj.get("spec"))
    _template(spec.get("template"), "spec.template", errs)
    batch.validate_job_spec(spec, "spec", errs)


def _cronjob(obj: dict[str, Any], errs: Errors) -> None:
    job_spec = _map(_map(_map(obj.get("spec")).get("jobTemplate")).get("spec"))
    _template(job_spec.get("template"), "spec.jobTemplate.spec.template", errs)
    batch.validate_cronjob(obj, errs)


def _node(obj: dict[str, Any], errs: Errors) -> None:
    seen = set()
    for i, t in _items(_map(obj.get("spec")).get("taints")):
        path = item("spec.taints", i)
        key = _str(t.get("key"))
        if key:
            _named(child(path, "key"), key, names.qualified_name, errs)
        if (key, t.get("effect")) in seen:
            errs.append(FieldError(path, f"duplicate taint {show(key)} with effect {t.get('effect')}"))
        seen.add((key, t.get("effect")))


def _namespace(obj: dict[str, Any], errs: Errors) -> None:
    errs.extend(podsecurity.namespace_errors(obj))


_BY_KIND: dict[str, tuple[Callable[[dict[str, Any], Errors], None], ...]] = {
    "Pod": (_pod,),
    "Deployment": (_workload, _strategy),
    "ReplicaSet": (_workload,),
    "DaemonSet": (_workload, _daemonset_strategy),
    "Job": (_job,),
    "CronJob": (_cronjob,),
    "Node": (_node,),
    "ConfigMap": (configdata.validate_configmap,),
    "Secret": (configdata.validate_secret,),
    claims.KIND: (claims.validate,),
    "Namespace": (_namespace,),
    "RoleBinding": (bindings.validate_binding,),
    "ClusterRoleBinding": (bindings.validate_binding,),
}


def _container_names(spec: dict[str, Any]) -> list[Any]:
    return [_map(c).get("name") for c in spec.get("containers") or []]


def validate_update(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """Changes to fields that are fixed once an object exists (kind, name, namespace, uid,
    a workload's selector, a pod's containers and, once bound, its node)."""
    pairs = [
        ("kind", old.get("kind"), new.get("kind")),
        ("metadata.name", _map(old.get("metadata")).get("name"), _map(new.get("metadata")).get("name")),
        ("metadata.namespace", _map(old.get("metadata")).get("namespace"), _map(new.get("metadata")).get("namespace")),
    ]
    old_uid, new_uid = _map(old.get("metadata")).get("uid"), _map(new.get("metadata")).get("uid")
    if old_uid and new_uid:
        pairs.append(("metadata.uid", old_uid, new_uid))
    old_spec, new_spec = _map(old.get("spec")), _map(new.get("spec"))
    if old.get("kind") in ("Deployment", "ReplicaSet", "DaemonSet"):
        pairs.append(("spec.selector", old_spec.get("selector"), new_spec.get("selector")))
    if old.get("kind") in ("RoleBinding", "ClusterRoleBinding"):  # as in Kubernetes
        pairs.append(("roleRef", old.get("roleRef"), new.get("roleRef")))
    if old.get("kind") == "Job":  # Kubernetes: a Job's pod template is fixed once made
        pairs.append(("spec.template", old_spec.get("template"), new_spec.get("template")))
        pairs.append(("spec.completions", old_spec.get("completions"), new_spec.get("completions")))
    if old.get("kind") == "Pod":
        pairs.append(("spec.containers", _container_names(old_spec), _container_names(new_spec)))
        if old_spec.get("nodeName"):
            pairs.append(("spec.nodeName", old_spec.get("nodeName"), new_spec.get("nodeName")))
    errs = [FieldError(path, "field is immutable") for path, before, after in pairs if before != after]
    return errs + configdata.validate_immutable(old, new) + claims.validate_update(old, new)


def validate_propagation(policy: str) -> list[FieldError]:
    """A delete's ``propagationPolicy`` (Orphan | Background | Foreground)."""
    if policy in PROPAGATION_POLICIES:
        return []
    supported = _supported(PROPAGATION_POLICIES)
    return [FieldError("propagationPolicy", f"unsupported value {show(policy)}: supported values: {supported}")]


# ---- the envelope: the shape every request body has before anything reads it ----------

# Deeper than any real object (a Deployment's deepest field is about 12 levels down), and
# far below the depth where copying or walking an object would exhaust Python's stack.
MAX_NESTING_DEPTH = 64
_ENVELOPE_MAPS = ("metadata", "spec", "status")
_METADATA_STRINGS = ("name", "generateName", "namespace", "resourceVersion", "uid")
_METADATA_STRING_MAPS = ("labels", "annotations")


def validate_envelope(body: Any) -> Errors:
    """What is wrong with the outer shape of a request body (empty: nothing), each problem
    naming its field: a JSON object; ``apiVersion`` and ``kind`` strings (kind required);
    ``metadata``, ``spec``, ``status`` objects; metadata's names strings; labels and
    annotations maps of string to string; no deeper nesting than MAX_NESTING_DEPTH.
    Checked on every body the API receives before the registry reads it, so a malformed
    one is INVALID_ARGUMENT naming the field, never a crash deep in the write path."""
    if not isinstance(body, dict):
        return [FieldError("", f"must be a JSON object, got {schema.type_name(body)}")]
    errs: Errors = []
    kind = body.get("kind")
    if kind is None or kind == "":
        errs.append(FieldError("kind", "required value"))
    for key in ("apiVersion", "kind"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errs.append(FieldError(key, f"must be a string, got {schema.type_name(body[key])}"))
    for key in _ENVELOPE_MAPS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            errs.append(FieldError(key, f"must be an object, got {schema.type_name(body[key])}"))
    meta = _map(body.get("metadata"))
    for key in _METADATA_STRINGS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            errs.append(FieldError(child("metadata", key), f"must be a string, got {schema.type_name(meta[key])}"))
    for key in _METADATA_STRING_MAPS:
        _string_map(child("metadata", key), meta.get(key), errs)
    too_deep = _too_deep(body, MAX_NESTING_DEPTH)
    if too_deep is not None:
        errs.append(FieldError(too_deep, f"nested too deeply: at most {MAX_NESTING_DEPTH} levels"))
    return errs


def _string_map(path: str, value: Any, errs: Errors) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errs.append(FieldError(path, f"must be a map of string to string, got {schema.type_name(value)}"))
        return
    for key, v in value.items():
        if not isinstance(v, str):
            errs.append(FieldError(child(path, str(key)), f"must be a string, got {schema.type_name(v)}"))


def _too_deep(body: Any, limit: int) -> str | None:
    """The path of the first value nested deeper than ``limit``, or None. Iterative: a
    recursive walk would itself overflow on the bodies it is meant to refuse. Each value
    carries its trail of keys (a linked pair), and the path is spelt only when it is needed:
    this runs on every write."""
    stack: list[tuple[Any, int, Any]] = [(body, 0, None)]
    while stack:
        value, depth, trail = stack.pop()
        if depth > limit:
            return _spell(trail)
        if isinstance(value, dict):
            stack.extend((v, depth + 1, (trail, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, (trail, i)) for i, v in enumerate(value))
    return None


def _spell(trail: Any) -> str:
    keys: list[str | int] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = item(path, key) if isinstance(key, int) else child(path, key)
    return path
