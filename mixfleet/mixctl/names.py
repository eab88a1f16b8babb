"""How kubectl names resources in its output: ``pod/web-0``, ``deployment.apps/web``,
``deployments.apps "web" not found``."""

from __future__ import annotations

from typing import Any

from mixfleet.api.kinds import Kind, by_kind


def group(kind: Kind) -> str:
    """The API group: "" for core v1, "apps" for apps/v1."""
    return kind.api_version.rpartition("/")[0]


def singular(kind: Kind) -> str:
    g = group(kind)
    return f"{kind.singular}.{g}" if g else kind.singular


def plural(kind: Kind) -> str:
    g = group(kind)
    return f"{kind.plural}.{g}" if g else kind.plural


def ref(obj: dict[str, Any]) -> str:
    """``pod/web-0`` for an object."""
    return f"{singular(by_kind(obj['kind']))}/{obj['metadata']['name']}"
