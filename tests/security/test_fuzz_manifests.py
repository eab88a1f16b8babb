"""Property-based sweep of the manifest loader and the validators (issue 11, item 7): every
manifest in manifests/, with one field anywhere in it replaced by a hostile value, removed,
or joined by an unknown one, and any text at all, either loads or is refused with errors that
say where. Never another exception (a crash), never an error without a message. Then mixctl
itself against a real control plane: a refused file exits non-zero without a traceback and
changes nothing on the server."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mixfleet.api import manifest
from mixfleet.api.defaults import apply_defaults
from mixfleet.api.validation import validate
from tests.cli.conftest import Mixctl
from tests.fixtures.controlplane import REPO

SEEDS: list[dict[str, Any]] = [
    d.obj for d in manifest.load([str(REPO / "manifests")])
]

# Values that broke parsers and validators elsewhere: huge exponents and magnitudes, wrong
# types, deep nesting, long and odd strings.
HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([
        None, True, 0, -1, 2**64, -(2**63) - 1, 1e308, float("inf"), "", " ", "1e1000000",
        "1e-1000000", "9" * 400, "9" * 5000, "١٢٣", "²", "-0", "0x10", "1Ei", "100000000000000000000Ki", "NaN",
        "C:\\data", "/", "..", "../../etc", "a" * 70_000, "\x00", "\u202e", "*", "$(X)",
        [], {}, [[[[[[]]]]]], {"a": {"b": {"c": {}}}},
    ]),
    st.integers(), st.floats(allow_nan=False), st.text(max_size=40),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*at, i))


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    path = draw(st.sampled_from([p for p in _paths(obj) if p]))
    parent: Any = obj
    for step in path[:-1]:
        parent = parent[step]
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    event(how)
    if how == "remove":
        del parent[path[-1]]
    elif how == "add" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(HOSTILE)
    else:
        parent[path[-1]] = draw(HOSTILE)
    return obj


def _errors_say_what(e: manifest.ManifestError) -> None:
    assert e.errors, "a refusal with no error"
    for err in e.errors:
        assert err.message.strip(), f"an error without a message: {err!r}"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=mutated())
def test_a_mutated_manifest_validates_or_names_what_is_wrong(obj: dict[str, Any]) -> None:
    errs = validate(apply_defaults(copy.deepcopy(obj), namespace="default"))
    event("refused" if errs else "accepted")
    for err in errs:
        assert err.message.strip(), f"an error without a message: {err!r}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(mutated(), min_size=1, max_size=3))
def test_the_loader_loads_or_refuses_a_mutated_file(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    f = tmp_path / "fuzz.yaml"
    f.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    try:
        manifest.load([str(f)])
    except manifest.ManifestError as e:
        _errors_say_what(e)
        assert all(err.file == str(f) for err in e.errors), "an error that does not name the file"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("{}[]:-&*!|>'\"#%@`, \n\tabc01")), max_size=300),
))
def test_the_loader_refuses_any_text_with_a_located_error(tmp_path: Path, text: str) -> None:
    f = tmp_path / "any.yaml"
    f.write_text(text, encoding="utf-8")
    try:
        manifest.load([str(f)])
    except manifest.ManifestError as e:
        _errors_say_what(e)


# -- mixctl, end to end --------------------------------------------------------------------

def _server_state(mixctl: Mixctl) -> str:
    got = mixctl("get", "pods,deployments,configmaps,secrets,jobs,pvc,namespaces", "-A", "-o", "json")
    assert got.returncode == 0, got.stderr
    items = json.loads(got.stdout).get("items", [])
    return json.dumps(sorted((i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"])
                             for i in items))


def _refused(obj: dict[str, Any]) -> bool:
    return bool(validate(apply_defaults(copy.deepcopy(obj), namespace="default")))


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(bad=mutated().filter(_refused))
def test_mixctl_refuses_a_bad_file_cleanly_and_applies_nothing(
    mixctl: Mixctl, tmp_path: Path, bad: dict[str, Any]
) -> None:
    # A valid document before the refused one: all or nothing, and no traceback.
    good = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "fuzz-good", "namespace": "default"}, "data": {"a": "b"}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all([good, bad]), encoding="utf-8")
    before = _server_state(mixctl)
    got = mixctl("apply", "-f", str(path))
    assert got.returncode != 0, got.stdout
    assert "Traceback" not in got.stderr + got.stdout
    assert "bad.yaml" in got.stderr and "nothing was applied" in got.stderr, got.stderr
    assert _server_state(mixctl) == before
