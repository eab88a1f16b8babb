"""Host facts, detected on the host rather than configured, and the Node object built from
them. ``detect_host()`` picks the platform module; ``node_object`` is pure."""

from __future__ import annotations

import sys

from nodeagent.facts.engine_view import facts_from_engine, parse_docker_image, parse_docker_info
from nodeagent.facts.host import HostFacts, normalize_arch
from nodeagent.facts.node import format_time, node_conditions, node_object

__all__ = [
    "HostFacts",
    "detect_host",
    "facts_from_engine",
    "format_time",
    "node_conditions",
    "node_object",
    "normalize_arch",
    "parse_docker_image",
    "parse_docker_info",
]


def detect_host() -> HostFacts:
    """Facts about the machine this process runs on."""
    if sys.platform == "win32":
        from nodeagent.facts import windows

        return windows.detect()
    from nodeagent.facts import linux

    return linux.detect()
