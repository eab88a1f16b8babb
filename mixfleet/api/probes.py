"""What a probe or lifecycle hook must say to be run, checked at apply as the API server
does (pkg/apis/core/validation): one handler each; liveness and startup probes with
``successThreshold`` 1; no ``terminationGracePeriodSeconds`` on a readiness probe; ports
in range, or the name of one of the container's ports (the kubelet would only find a
missing name when it probes; refusing it at apply says so sooner); scheme HTTP or HTTPS;
a grpc probe with a port; a sleep of zero or more seconds."""

from __future__ import annotations

from typing import Any, Mapping

from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child, show

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_HOOK_HANDLERS = ("exec", "httpGet", "sleep", "tcpSocket")


def validate_container(c: Mapping[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ports = {p["name"] for p in _list(c.get("ports")) if isinstance(p, dict) and isinstance(p.get("name"), str)}
    for field in PROBES:
        probe = c.get(field)
        if isinstance(probe, dict) and probe:
            _probe(field, probe, child(path, field), ports, errs)
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for which in ("postStart", "preStop"):
            hook = lifecycle.get(which)
            if isinstance(hook, dict) and hook:
                _handler(hook, _HOOK_HANDLERS, child(child(path, "lifecycle"), which), ports, errs)
    return errs


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _probe(field: str, probe: Mapping[str, Any], path: str, ports: set[Any], errs: list[FieldError]) -> None:
    _handler(probe, _PROBE_HANDLERS, path, ports, errs)
    threshold = probe.get("successThreshold")
    if field != "readinessProbe" and threshold not in (None, 0, 1):
        errs.append(FieldError(child(path, "successThreshold"), f"invalid value {show(threshold)}: must be 1"))
    if field == "readinessProbe" and probe.get("terminationGracePeriodSeconds") is not None:
        errs.append(FieldError(child(path, "terminationGracePeriodSeconds"),
                               "must not be set for readinessProbes"))
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 1:
        errs.append(FieldError(child(path, "terminationGracePeriodSeconds"),
                               f"invalid value {show(grace)}: must be greater than 0"))


def _handler(h: Mapping[str, Any], allowed: tuple[str, ...], path: str, ports: set[Any],
             errs: list[FieldError]) -> None:
    given = [k for k in allowed if h.get(k) is not None]
    if not given:
        errs.append(FieldError(path, f"must specify a handler type ({', '.join(allowed)})"))
        return
    if len(given) > 1:
        errs.append(FieldError(child(path, given[1]), "may not specify more than 1 handler type"))
        return
    kind = given[0]
    body, hpath = h[kind], child(path, kind)
    if not isinstance(body, dict):
        return  # the schema reports the type
    if kind == "exec" and not body.get("command"):
        errs.append(FieldError(child(hpath, "command"), "required value"))
    if kind in ("httpGet", "tcpSocket", "grpc"):
        _port(body.get("port"), child(hpath, "port"), ports, named=kind != "grpc", errs=errs)
    if kind == "httpGet":
        scheme = body.get("scheme")
        if scheme not in (None, "", "HTTP", "HTTPS"):
            errs.append(FieldError(child(hpath, "scheme"),
                                   f'unsupported value {show(scheme)}: supported values: "HTTP", "HTTPS"'))
    if kind == "sleep":
        seconds = body.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            errs.append(FieldError(child(hpath, "seconds"), f"invalid value {show(seconds)}: must be 0 or more"))


def _port(port: Any, path: str, ports: set[Any], *, named: bool, errs: list[FieldError]) -> None:
    if port is None or port == "":
        errs.append(FieldError(path, "required value"))
    elif isinstance(port, bool) or not isinstance(port, (int, str)):
        errs.append(FieldError(path, f"invalid value {show(port)}: must be a port number or name"))
    elif isinstance(port, int) or (port.isascii() and port.isdigit() and len(port) < 10):
        if not 1 <= int(port) <= 65535:
            errs.append(FieldError(path, f"invalid value {show(port)}: must be between 1 and 65535, inclusive"))
    elif not named:
        errs.append(FieldError(path, f"invalid value {show(port)}: must be a port number"))
    elif port not in ports:
        known = ", ".join(sorted(map(str, ports))) or "none"
        errs.append(FieldError(path, f"invalid value {show(port)}: no port of this container has that name "
                                     f"(its named ports: {known})"))
