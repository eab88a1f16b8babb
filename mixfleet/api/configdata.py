"""ConfigMap and Secret (v1): their rules, as the Kubernetes API server has them.

- keys of ``data``/``binaryData``/``stringData`` are 1-253 characters of ``[-._a-zA-Z0-9]``,
  and a key may not be in both ``data`` and ``binaryData`` of a ConfigMap;
- a Secret's ``data`` (and a ConfigMap's ``binaryData``) values are base64; a Secret's
  ``stringData`` is write-only: merged into ``data`` (base64) when defaults are applied, its
  keys winning, so the stored object holds ``data`` only;
- Secret ``type`` is ``Opaque`` (default) or ``kubernetes.io/dockerconfigjson`` (which needs
  a ``.dockerconfigjson`` key holding a JSON object); other Kubernetes types are refused as
  not supported by Mixfleet;
- ``immutable: true``: the data can no longer change, and ``immutable`` cannot be unset;
- no error ever shows a Secret's value: this module's never do, and the schema's (which
  quote the value they refuse) are redacted under ``data`` and ``stringData`` (``redact``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from mixfleet.api.errors import FieldError
from mixfleet.api.schema import child

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
OPAQUE = "Opaque"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPES = (OPAQUE, DOCKER_CONFIG_JSON)
DOCKER_CONFIG_KEY = ".dockerconfigjson"
_DATA_FIELDS = ("data", "binaryData", "stringData")


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def merge_string_data(secret: dict[str, Any]) -> None:
    """Fold ``stringData`` into ``data`` (in place), as the API server does on write."""
    strings = secret.get("stringData")
    if not isinstance(strings, dict) or not all(isinstance(v, str) for v in strings.values()):
        return  # malformed: left for validation to report
    data = secret.get("data")
    if data is None:
        data = secret["data"] = {}
    if not isinstance(data, dict):
        return
    for key, value in strings.items():
        data[key] = base64.b64encode(value.encode()).decode()
    del secret["stringData"]


def decoded(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _keys(obj: dict[str, Any], field: str, errs: list[FieldError]) -> None:
    for key in _map(obj.get(field)):
        if not isinstance(key, str) or not _KEY.match(key) or len(key) > 253:
            errs.append(FieldError(child(field, str(key)),
                                   "a valid config key must consist of alphanumeric characters, '-', '_' "
                                   "or '.', at most 253"))


def _base64(obj: dict[str, Any], field: str, errs: list[FieldError]) -> None:
    for key, value in _map(obj.get(field)).items():
        if isinstance(value, str) and decoded(value) is None:
            errs.append(FieldError(child(field, str(key)), "must be base64 (value not shown)"))


def validate_configmap(obj: dict[str, Any], errs: list[FieldError]) -> None:
    for field in ("data", "binaryData"):
        _keys(obj, field, errs)
    _base64(obj, "binaryData", errs)
    for key in _map(obj.get("data")).keys() & _map(obj.get("binaryData")).keys():
        errs.append(FieldError(child("binaryData", str(key)), "duplicate of a key in data"))


def validate_secret(obj: dict[str, Any], errs: list[FieldError]) -> None:
    for field in ("data", "stringData"):
        _keys(obj, field, errs)
    _base64(obj, "data", errs)
    kind = obj.get("type") or OPAQUE
    if kind not in SECRET_TYPES:
        errs.append(FieldError("type", f'"{kind}" is not supported by Mixfleet (supported: '
                                       f'{", ".join(SECRET_TYPES)})'))
    elif kind == DOCKER_CONFIG_JSON:
        raw = _map(obj.get("data")).get(DOCKER_CONFIG_KEY)
        config = decoded(raw) if isinstance(raw, str) else None
        try:
            ok = config is not None and isinstance(json.loads(config), dict)
        except ValueError:
            ok = False
        if not ok:
            errs.append(FieldError(child("data", DOCKER_CONFIG_KEY),
                                   f"required for type {DOCKER_CONFIG_JSON}: base64 of a JSON object"))


def validate_immutable(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """An immutable ConfigMap or Secret keeps its data and stays immutable."""
    if old.get("kind") not in ("ConfigMap", "Secret") or old.get("immutable") is not True:
        return []
    errs = [FieldError("immutable", "field is immutable when `immutable` is set")] \
        if new.get("immutable") is not True else []
    for field in _DATA_FIELDS:
        if old.get(field) != new.get(field):
            errs.append(FieldError(field, "field is immutable when `immutable` is set"))
    if old.get("kind") == "Secret" and old.get("type") != new.get("type"):
        errs.append(FieldError("type", "field is immutable"))
    return errs


def redact(obj: Any, errs: list[FieldError]) -> list[FieldError]:
    """A Secret's errors with no value of its data in them."""
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return errs
    out = []
    for e in errs:
        if e.path.split(".", 1)[0].split("[", 1)[0] in ("data", "stringData"):
            e = FieldError(e.path, "invalid value (not shown: Secret data)", e.file, e.document, e.object)
        out.append(e)
    return out
