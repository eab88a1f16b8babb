"""Label and field selectors: parsing once, matching many."""

from __future__ import annotations

import pytest

from mixfleet.api import selectors

LABELS = {"app": "web", "tier": "frontend", "build": "20348", "env": ""}


@pytest.mark.parametrize("text, matches", [
    pytest.param("", True, id="empty-matches-all"),
    pytest.param("app=web", True, id="equals"),
    pytest.param("app==web", True, id="double-equals"),
    pytest.param("app=db", False, id="equals-other"),
    pytest.param("app!=db", True, id="not-equals"),
    pytest.param("missing!=x", True, id="not-equals-matches-absent"),
    pytest.param("tier in (frontend,backend)", True, id="in"),
    pytest.param("tier in (backend)", False, id="in-miss"),
    pytest.param("tier notin (backend)", True, id="notin"),
    pytest.param("missing notin (x)", True, id="notin-matches-absent"),
    pytest.param("missing in (x)", False, id="in-needs-key"),
    pytest.param("env", True, id="exists-empty-value"),
    pytest.param("!missing", True, id="does-not-exist"),
    pytest.param("!app", False, id="does-not-exist-miss"),
    pytest.param("build>20000", True, id="greater-than"),
    pytest.param("build<20000", False, id="less-than"),
    pytest.param("app=web, tier in ( frontend , x ),!missing", True, id="spaces"),
    pytest.param("app=web,c!=d,tier in (frontend,y),f notin (z),env,!h", True, id="all-forms"),
    pytest.param("app=web,tier=backend", False, id="all-must-hold"),
    pytest.param("env=", True, id="equals-empty-value"),
])
def test_label_selector_string(text: str, matches: bool) -> None:
    """kubectl-syntax selectors match label maps as Kubernetes does."""
    assert selectors.parse(text).matches(LABELS) is matches


@pytest.mark.parametrize("bad, message", [
    pytest.param("a in (x", 'invalid label selector "a in (x": unbalanced parentheses', id="unbalanced"),
    pytest.param("a in ()", "invalid label selector \"a in ()\": values for 'in' must not be empty", id="empty-set"),
    pytest.param("a b", 'invalid label selector "a b": cannot parse "a b"', id="two-words"),
    pytest.param("a=b,", 'invalid label selector "a=b,": cannot parse ""', id="trailing-comma"),
    pytest.param("-a=b", "invalid label selector \"-a=b\": key '-a': name part must consist of alphanumeric "
                 "characters, '-', '_' or '.', and must start and end with an alphanumeric character", id="bad-key"),
    pytest.param("a>x", 'invalid label selector "a>x": cannot parse "a>x"', id="gt-not-number"),
])
def test_bad_label_selector(bad: str, message: str) -> None:
    """Malformed selectors raise ValueError naming the selector and the bad part."""
    with pytest.raises(ValueError) as info:
        selectors.parse(bad)
    assert str(info.value) == message


def test_selector_round_trips_and_matches_objects() -> None:
    """str() gives a canonical selector that parses back; objects match by their labels."""
    sel = selectors.parse("tier in (a,b), app=web, !x")
    assert str(sel) == "app=web,tier in (a,b),!x"
    assert selectors.parse(str(sel)) == sel
    assert sel.matches({"metadata": {"labels": {"app": "web", "tier": "b"}}})
    assert not sel.matches({"metadata": {"name": "no-labels"}})


@pytest.mark.parametrize("selector, matches", [
    pytest.param({"matchLabels": {"app": "web"}}, True, id="match-labels"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}]}, True, id="in"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]}, False, id="notin"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True, id="exists"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False, id="does-not-exist"),
    pytest.param({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}, False,
                 id="both-must-hold"),
    pytest.param({}, True, id="empty-matches-all"),
    pytest.param(None, False, id="none-matches-nothing"),
])
def test_label_selector_dict(selector: dict | None, matches: bool) -> None:
    """LabelSelector dicts (matchLabels/matchExpressions) match like their string forms."""
    assert selectors.from_dict(selector).matches(LABELS) is matches


@pytest.mark.parametrize("bad, message", [
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Like"}]},
                 "invalid label selector matchExpressions[0]: unsupported operator 'Like'", id="operator"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
                 "invalid label selector matchExpressions[0]: values must be empty for Exists", id="exists-values"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "In"}]},
                 "invalid label selector matchExpressions[0]: values for 'in' must not be empty", id="in-no-values"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
                 "invalid label selector matchExpressions[0]: unsupported operator 'Gt'", id="gt-only-for-nodes"),
])
def test_bad_label_selector_dict(bad: dict, message: str) -> None:
    """A malformed selector dict raises ValueError naming the expression."""
    with pytest.raises(ValueError) as info:
        selectors.from_dict(bad)
    assert str(info.value) == message


POD = {"metadata": {"name": "web-0", "namespace": "default"}, "spec": {"nodeName": "n1", "unschedulable": False},
       "status": {"phase": "Pending"}}


@pytest.mark.parametrize("text, matches", [
    pytest.param("", True, id="empty"),
    pytest.param("spec.nodeName=n1", True, id="equals"),
    pytest.param("spec.nodeName==n2", False, id="equals-other"),
    pytest.param("status.phase!=Running", True, id="not-equals"),
    pytest.param("metadata.name=web-0,metadata.namespace=default", True, id="name-and-namespace"),
    pytest.param("spec.missing=", True, id="absent-is-empty"),
    pytest.param("spec.unschedulable=false", True, id="boolean"),
    pytest.param(" spec.nodeName = n1 ", True, id="spaces"),
])
def test_field_selector(text: str, matches: bool) -> None:
    """Field selectors compare the string value at a dotted path."""
    assert selectors.parse_fields(text).matches(POD) is matches


@pytest.mark.parametrize("bad", ["spec.nodeName", "spec..x=1", "=1", "spec.nodeName~n1"])
def test_bad_field_selector(bad: str) -> None:
    """A malformed field selector raises ValueError naming the term."""
    with pytest.raises(ValueError, match="invalid field selector"):
        selectors.parse_fields(bad)


def test_node_selector_terms_allow_numeric_operators() -> None:
    """Node affinity terms may compare numbers (Gt, Lt); a single integer value is required."""
    term = {"matchExpressions": [{"key": "build", "operator": "Gt", "values": ["17763"]}]}
    assert selectors.from_dict(term, node_selector=True).matches(LABELS)
    assert not selectors.from_dict({"matchExpressions": [{"key": "build", "operator": "Lt", "values": ["17763"]}]},
                                   node_selector=True).matches(LABELS)
    with pytest.raises(ValueError, match="Lt needs a single integer value"):
        selectors.from_dict({"matchExpressions": [{"key": "a", "operator": "Lt", "values": ["1", "2"]}]},
                            node_selector=True)
