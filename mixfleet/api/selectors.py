"""Label selectors (kubectl syntax ``a=b,c!=d,e in (x,y),f notin (z),g,!h`` or a LabelSelector
dict with matchLabels/matchExpressions) and field selectors (``spec.nodeName=n1,
status.phase!=Running``), and node selectors (a ``nodeSelector`` map, a nodeSelectorTerm
with Gt/Lt and matchFields). Each is parsed once into an immutable matcher; a malformed
selector is a SelectorError (a ValueError) saying which part is wrong. The one selector
engine: the API's list/watch filters, the controllers and the scheduler all match with it.

Semantics follow Kubernetes: ``!=`` and ``notin`` also match objects without the label;
an empty selector matches everything; a missing (None) LabelSelector matches nothing.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Mapping

from mixfleet.api import names


class SelectorError(ValueError):
    """A selector that cannot be evaluated; the message says which part is wrong."""


class Op(enum.Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GT = "gt"
    LT = "lt"


_DICT_OPS = {"In": Op.IN, "NotIn": Op.NOT_IN, "Exists": Op.EXISTS, "DoesNotExist": Op.DOES_NOT_EXIST,
             "Gt": Op.GT, "Lt": Op.LT}


def _labels_of(labels_or_obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """Label values are strings, so a dict-valued ``metadata`` means a whole object."""
    meta = labels_or_obj.get("metadata")
    if isinstance(meta, dict):
        return meta.get("labels") or {}
    return labels_or_obj


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        present, value = self.key in labels, labels.get(self.key)
        match self.op:
            case Op.EXISTS:
                return present
            case Op.DOES_NOT_EXIST:
                return not present
            case Op.EQUALS | Op.IN:
                return present and value in self.values
            case Op.NOT_EQUALS | Op.NOT_IN:
                return not present or value not in self.values
            case Op.GT | Op.LT:
                return present and _compare(value, int(self.values[0]), self.op)
        return False

    def __str__(self) -> str:
        match self.op:
            case Op.EXISTS:
                return self.key
            case Op.DOES_NOT_EXIST:
                return f"!{self.key}"
            case Op.EQUALS | Op.NOT_EQUALS:
                return f"{self.key}{self.op.value}{self.values[0]}"
            case Op.GT | Op.LT:
                return f"{self.key}{'>' if self.op is Op.GT else '<'}{self.values[0]}"
        return f"{self.key} {self.op.value} ({','.join(self.values)})"


def _compare(value: Any, bound: int, op: Op) -> bool:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return False
    return number > bound if op is Op.GT else number < bound


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a missing selector selects nothing

    def matches(self, labels_or_obj: Mapping[str, Any]) -> bool:
        """True when every requirement holds for a label map or an object's labels."""
        if self.nothing:
            return False
        labels = _labels_of(labels_or_obj)
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)

_KEY = r"[A-Za-z0-9._/-]+"
_Build = Callable[[re.Match[str]], tuple[str, Op, tuple[str, ...]]]
_TERMS: tuple[tuple[re.Pattern[str], _Build], ...] = (
    (re.compile(rf"!\s*({_KEY})"), lambda m: (m[1], Op.DOES_NOT_EXIST, ())),
    (re.compile(rf"({_KEY})\s*(==|=|!=)\s*([^\s,()=!]*)"),
     lambda m: (m[1], Op.NOT_EQUALS if m[2] == "!=" else Op.EQUALS, (m[3],))),
    (re.compile(rf"({_KEY})\s+(in|notin)\s*\(([^()]*)\)"),
     lambda m: (m[1], Op(m[2]), tuple(v.strip() for v in m[3].split(",")))),
    (re.compile(rf"({_KEY})\s*([<>])\s*(-?\d+)"), lambda m: (m[1], Op.GT if m[2] == ">" else Op.LT, (m[3],))),
    (re.compile(rf"({_KEY})"), lambda m: (m[1], Op.EXISTS, ())),
)


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses: ``a in (x,y),b`` -> ``a in (x,y)``, ``b``."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "()":
            depth += 1 if ch == "(" else -1
            if depth not in (0, 1):
                raise SelectorError(f'invalid label selector "{text}": unbalanced parentheses')
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    if depth:
        raise SelectorError(f'invalid label selector "{text}": unbalanced parentheses')
    terms.append(text[start:])
    return terms


def _requirement(key: str, op: Op, values: tuple[str, ...], *, where: str) -> Requirement:
    problems = [f"key {key!r}: {p}" for p in names.qualified_name(key)]
    if op in (Op.IN, Op.NOT_IN) and (not values or values == ("",)):
        problems.append(f"values for {op.value!r} must not be empty")
    for v in values:
        problems.extend(f"value {v!r}: {p}" for p in names.label_value(v))
    if problems:
        raise SelectorError(f"invalid label selector {where}: {'; '.join(problems)}")
    return Requirement(key, op, values)


def parse(text: str) -> LabelSelector:
    """A selector in kubectl syntax; ``""`` selects everything."""
    if not text.strip():
        return EVERYTHING
    reqs = []
    for term in _split_terms(text):
        term = term.strip()
        for regex, build in _TERMS:
            m = regex.fullmatch(term)
            if m:
                reqs.append(_requirement(*build(m), where=f'"{text}"'))
                break
        else:
            raise SelectorError(f'invalid label selector "{text}": cannot parse "{term}"')
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_dict(selector: Mapping[str, Any] | None, *, node_selector: bool = False) -> LabelSelector:
    """A LabelSelector dict: matchLabels and matchExpressions with In, NotIn, Exists,
    DoesNotExist; with ``node_selector=True`` a node selector term, which also allows Gt, Lt."""
    if selector is None:
        return NOTHING
    if not isinstance(selector, Mapping):
        raise SelectorError(f"invalid label selector: must be a map, got {type(selector).__name__}")
    reqs = [_requirement(str(k), Op.EQUALS, (str(v),), where="matchLabels")
            for k, v in _given(selector, "matchLabels", Mapping, "a map").items()]
    for i, expr in enumerate(_given(selector, "matchExpressions", list, "a list")):
        reqs.append(_expression(expr, where=f"matchExpressions[{i}]", numeric=node_selector))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_map(labels: Mapping[str, Any]) -> LabelSelector:
    """A ``nodeSelector`` map: every ``key: value`` must be present (an empty map matches all)."""
    reqs = [_requirement(str(k), Op.EQUALS, (str(v),), where="nodeSelector") for k, v in labels.items()]
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_node_term(term: Mapping[str, Any]) -> LabelSelector:
    """A nodeSelectorTerm: matchExpressions (with Gt, Lt) and matchFields, all of which
    must match; node label maps carry the one field, ``metadata.name``, under that key."""
    if not isinstance(term, Mapping):
        raise SelectorError(f"invalid node selector term: must be a map, got {type(term).__name__}")
    reqs = [_expression(e, where=f"{part}[{i}]", numeric=True)
            for part in ("matchExpressions", "matchFields")
            for i, e in enumerate(_given(term, part, list, "a list"))]
    return LabelSelector(tuple(reqs))


def _given(parent: Mapping[str, Any], key: str, kind: type, what: str, *, where: str = "") -> Any:
    """``parent[key]``, empty when absent; SelectorError when it is not ``kind``."""
    value = parent.get(key)
    if not value:
        return {} if kind is Mapping else []
    if not isinstance(value, kind):
        at = f"{where}.{key}" if where else key
        raise SelectorError(f"invalid label selector: {at} must be {what}, got {type(value).__name__}")
    return value


def _expression(expr: Any, *, where: str, numeric: bool) -> Requirement:
    if not isinstance(expr, Mapping):
        raise SelectorError(f"invalid label selector {where}: must be a map")
    op = _DICT_OPS.get(str(expr.get("operator")))
    if op is None or (op in (Op.GT, Op.LT) and not numeric):
        raise SelectorError(f"invalid label selector {where}: unsupported operator {expr.get('operator')!r}")
    values = tuple(str(v) for v in _given(expr, "values", list, "a list", where=where))
    if op in (Op.EXISTS, Op.DOES_NOT_EXIST) and values:
        raise SelectorError(f"invalid label selector {where}: values must be empty for {expr['operator']}")
    if op in (Op.GT, Op.LT) and (len(values) != 1 or not values[0].lstrip("-").isdigit()):
        raise SelectorError(f"invalid label selector {where}: {expr['operator']} needs a single integer value")
    return _requirement(str(expr.get("key", "")), op, values, where=where)


# Field selectors.

_FIELD_TERM = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)\s*(==|=|!=)\s*([^,]*?)\s*")


@dataclass(frozen=True, slots=True)
class FieldTerm:
    path: str  # dotted, e.g. "spec.nodeName"
    negate: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, self.path) == self.value) != self.negate

    def __str__(self) -> str:
        return f"{self.path}{'!=' if self.negate else '='}{self.value}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(t.matches(obj) for t in self.terms)

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as a field selector compares it ("" when absent)."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_fields(text: str) -> FieldSelector:
    """A field selector: ``spec.nodeName=n1,status.phase!=Running``; ``""`` selects everything."""
    if not text.strip():
        return FieldSelector()
    terms = []
    for term in text.split(","):
        m = _FIELD_TERM.fullmatch(term)
        if not m:
            raise SelectorError(f'invalid field selector "{text}": cannot parse "{term.strip()}" '
                             "(want path=value or path!=value)")
        terms.append(FieldTerm(m[1], m[2] == "!=", m[3]))
    return FieldSelector(tuple(terms))


# The names the control plane's registry calls them by.
parse_label_selector = parse
parse_field_selector = parse_fields
