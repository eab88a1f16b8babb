"""Label and node selectors (In, NotIn, Exists, DoesNotExist, Gt, Lt), parsed once.

Pure data plus ``matches``; the node-affinity and anti-affinity plugins read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HOSTNAME = "kubernetes.io/hostname"
# Keys whose value differs on every node: a selector that reads them cannot be decided
# per node class and is checked per node instead.
PER_NODE_KEYS = frozenset({HOSTNAME, "metadata.name"})

_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})


class SelectorError(ValueError):
    """A selector the scheduler cannot evaluate (unknown operator, non-integer Gt/Lt)."""


@dataclass(frozen=True, slots=True)
class Expr:
    key: str
    op: str
    values: frozenset[str]

    @classmethod
    def parse(cls, raw: Mapping) -> Expr:
        op = raw.get("operator", "In")
        if op not in _OPERATORS:
            raise SelectorError(f"unknown selector operator {op!r}")
        key = raw.get("key", "")
        values = frozenset(str(v) for v in raw.get("values") or ())
        if op in ("Gt", "Lt"):
            if len(values) != 1 or not _is_int(next(iter(values))):
                raise SelectorError(f"{op} needs exactly one integer value for {key!r}")
        return cls(key, op, values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        have = labels.get(self.key)
        if have is None or not _is_int(have):
            return False
        want = int(next(iter(self.values)))
        return int(have) > want if op == "Gt" else int(have) < want


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Term:
    """A nodeSelectorTerm or a label selector: every expression must match (AND)."""

    exprs: tuple[Expr, ...]

    @classmethod
    def from_node_term(cls, raw: Mapping) -> Term:
        exprs = [Expr.parse(e) for e in raw.get("matchExpressions") or ()]
        # matchFields supports metadata.name only; node label maps carry it under that key.
        exprs += [Expr.parse(e) for e in raw.get("matchFields") or ()]
        return cls(tuple(exprs))

    @classmethod
    def from_label_selector(cls, raw: Mapping | None) -> Term:
        raw = raw or {}
        exprs = [Expr(k, "In", frozenset({str(v)})) for k, v in sorted((raw.get("matchLabels") or {}).items())]
        exprs += [Expr.parse(e) for e in raw.get("matchExpressions") or ()]
        return cls(tuple(exprs))

    @classmethod
    def from_node_selector(cls, raw: Mapping[str, str]) -> Term:
        return cls(tuple(Expr(k, "In", frozenset({str(v)})) for k, v in sorted(raw.items())))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(e.matches(labels) for e in self.exprs)

    @property
    def per_node(self) -> bool:
        return any(e.key in PER_NODE_KEYS for e in self.exprs)

    def equality_pairs(self) -> tuple[tuple[str, str], ...]:
        """``key=value`` pairs every match must carry: a label index can find candidates."""
        return tuple((e.key, next(iter(e.values))) for e in self.exprs if e.op == "In" and len(e.values) == 1)
