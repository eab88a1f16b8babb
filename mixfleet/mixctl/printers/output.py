"""``-o yaml|json|name``: one object prints as itself, several as a ``kind: List``."""

from __future__ import annotations

import json
from typing import Any, Sequence

import yaml

from mixfleet.mixctl import names

FORMATS = ("wide", "yaml", "json", "name")


def as_list(objs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(objs), "metadata": {"resourceVersion": ""}}


def dump_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def dump_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"


def render(fmt: str, objs: Sequence[dict[str, Any]], *, single: bool) -> str:
    """Text for ``-o fmt``; ``single`` when the user asked for exactly one object by name."""
    if fmt == "name":
        return "".join(names.ref(o) + "\n" for o in objs)
    doc = objs[0] if single and len(objs) == 1 else as_list(objs)
    return dump_yaml(doc) if fmt == "yaml" else dump_json(doc)


def render_watch(fmt: str, obj: dict[str, Any]) -> str:
    """One object as it changes during ``get -w``: YAML documents are separated by ``---``."""
    if fmt == "name":
        return names.ref(obj) + "\n"
    if fmt == "yaml":
        return "---\n" + dump_yaml(obj)
    return dump_json(obj)
