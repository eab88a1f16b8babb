"""Host facts, detected on the host rather than configured, and the Node object built from
them. ``detect_host()`` picks the platform module; ``node_object`` is pure."""

from __future__ import annotations

import sys

from mixfleet.nodeagent.facts.engine_view import (
    facts_from_engine,
    parse_docker_image,
    parse_docker_info,
)
from mixfleet.nodeagent.facts.host import HostFacts, normalize_arch
from mixfleet.nodeagent.facts.node import node_conditions, node_object

__all__ = [
    "HostFacts",
    "detect_host",
    "facts_from_engine",
    "node_conditions",
    "node_object",
    "normalize_arch",
    "parse_docker_image",
    "parse_docker_info",
]


def detect_host() -> HostFacts:
    """Facts about the machine this process runs on."""
    if sys.platform == "win32":
        from mixfleet.nodeagent.facts import windows

        return windows.detect()
    from mixfleet.nodeagent.facts import linux

    return linux.detect()
