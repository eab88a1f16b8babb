"""What the scheduler reads from the domain core's selectors (:mod:`mixfleet.api.selectors`,
the one engine): which keys differ on every node, and the ``key=value`` pairs a label index
can look candidates up by.
"""

from __future__ import annotations

from mixfleet.api.selectors import LabelSelector, Op

HOSTNAME = "kubernetes.io/hostname"
# Keys whose value differs on every node: a selector that reads them cannot be decided
# per node class and is checked per node instead.
PER_NODE_KEYS = frozenset({HOSTNAME, "metadata.name"})


def per_node(selector: LabelSelector) -> bool:
    return any(r.key in PER_NODE_KEYS for r in selector.requirements)


def equality_pairs(selector: LabelSelector) -> tuple[tuple[str, str], ...]:
    """``key=value`` pairs every match must carry: a label index can find candidates."""
    return tuple(
        (r.key, r.values[0])
        for r in selector.requirements
        if r.op in (Op.EQUALS, Op.IN) and len(r.values) == 1
    )
