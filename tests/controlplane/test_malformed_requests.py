"""Malformed request bodies and odd request fields get INVALID_ARGUMENT (or another
deliberate answer) naming the field, never INTERNAL or UNKNOWN with a traceback in the
server's log: explicit cases, then a property-based sweep over every RPC of the API,
against a real control plane process on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mixfleet.proto import mixfleet_pb2 as pb
from mixfleet.proto import mixfleet_pb2_grpc as pb_grpc
from tests.fixtures.controlplane import ControlPlaneProcess

# Codes that mean "the server broke", as opposed to an answer about the request.
_BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
    "spec": {"containers": [{"name": "c", "image": "example/app:1"}]},
}
_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
    "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}},
                     "spec": {"containers": [{"name": "c", "image": "example/app:1"}]}},
    },
}


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ControlPlaneProcess]]:
    """A control plane process with a Pod "p" and a Deployment "d" in it, so updates and
    deletes also reach existing objects; and a plain (retry-free) stub talking to it."""
    from tests.fixtures.controlplane import start_controlplane_process

    work = tmp_path_factory.mktemp("malformed")
    cp = start_controlplane_process(work, f"sqlite:///{work / 'state.db'}")
    channel = grpc.insecure_channel(cp.address)
    try:
        s = pb_grpc.ControlPlaneStub(channel)
        s.Apply(pb.ApplyRequest(objects=[json.dumps(o).encode() for o in (_POD, _DEPLOYMENT)]),
                timeout=10)
        yield s, cp
    finally:
        channel.close()
        cp.stop()


def _code_and_details(call: Any) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as e:
        return e.code(), e.details() or ""
    return grpc.StatusCode.OK, ""


_DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.parametrize("body, field", [
    pytest.param(b"[1]", "must be a JSON object, got list", id="list"),
    pytest.param(b'"x"', "must be a JSON object, got string", id="string"),
    pytest.param(b'{"metadata": "x"}', "metadata: must be an object, got string", id="metadata-string"),
    pytest.param(b'{"kind": "Pod", "metadata": {"labels": {"a": 1}}}', "metadata.labels.a: must be a string",
                 id="label-integer"),
    pytest.param(b'{"kind": "Pod", "metadata": {"name": ["p"]}}', "metadata.name: must be a string",
                 id="name-list"),
    pytest.param(b'{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": [1]}',
                 "spec: must be an object", id="spec-list"),
    pytest.param(b'{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "status": "x"}',
                 "status: must be an object", id="status-string"),
    pytest.param(_DEEP, "nested too deeply", id="10000-deep"),
    pytest.param(b'{"kind": "Pod", "spec": {"x": ' + b"[" * 500 + b"]" * 500 + b"}}",
                 "spec.x[0][0]", id="500-deep-in-spec"),
    pytest.param(b"\xff{", "not valid JSON", id="not-utf8"),
])
@pytest.mark.parametrize("method", ["Create", "Update", "UpdateStatus", "Apply"])
def test_malformed_body_is_invalid_argument_naming_the_field(
    stub: tuple[Any, ControlPlaneProcess], method: str, body: bytes, field: str
) -> None:
    """Each malformed body answers INVALID_ARGUMENT, and the message names the field."""
    s, _ = stub
    calls = {
        "Create": lambda: s.Create(pb.CreateRequest(object=body), timeout=10),
        "Update": lambda: s.Update(pb.UpdateRequest(object=body), timeout=10),
        "UpdateStatus": lambda: s.Update(pb.UpdateRequest(object=body, status_only=True), timeout=10),
        "Apply": lambda: s.Apply(pb.ApplyRequest(objects=[body]), timeout=10),
    }
    code, details = _code_and_details(calls[method])
    assert code is grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert field in details
    if method == "Apply":
        assert "document 1" in details


def test_apply_names_every_bad_document(stub: tuple[Any, ControlPlaneProcess]) -> None:
    """An Apply of several bodies reports each bad one by its position, and writes none."""
    s, _ = stub
    good = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "malformed-ok"}})
    code, details = _code_and_details(lambda: s.Apply(
        pb.ApplyRequest(objects=[good.encode(), b"[1]", b'{"kind": "Pod", "metadata": "x"}']), timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "document 2: must be a JSON object" in details
    assert "document 3: metadata: must be an object" in details
    code, _ = _code_and_details(lambda: s.Get(pb.GetRequest(ref=pb.ObjectRef(kind="Namespace", name="malformed-ok")),
                                              timeout=10))
    assert code is grpc.StatusCode.NOT_FOUND


# ---- the property: no RPC, whatever its body, answers INTERNAL or UNKNOWN -----------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_kinds = st.sampled_from(["Pod", "Deployment", "ReplicaSet", "Namespace", "Node", "Event", "Lease",
                          "pods", "po", "", "Gadget"])
_names = st.sampled_from(["p", "d", "default", "", "-", "a" * 300]) | st.text(max_size=12)
_api_versions = st.sampled_from(["v1", "apps/v1", "coordination.k8s.io/v1", "events.k8s.io/v1", ""])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, _json)


_metadata = st.fixed_dictionaries({}, optional={
    "name": _maybe(_names), "namespace": _maybe(st.sampled_from(["default", "", "nope"])),
    "labels": _maybe(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)),
    "annotations": _json, "resourceVersion": _maybe(st.sampled_from(["1", "x", "99999999"])),
    "generateName": _maybe(st.sampled_from(["x-", "", "X_"])), "ownerReferences": _json, "finalizers": _json, "uid": _json,
    "deletionTimestamp": _json,
})
_pod_spec = st.fixed_dictionaries({}, optional={
    "containers": _maybe(st.lists(st.fixed_dictionaries({"name": _maybe(_names), "image": _json},
                                                        optional={"resources": _json}), max_size=2)),
    "nodeName": _json, "platform": _json, "tolerations": _json, "affinity": _json,
    "nodeSelector": _json, "binding": _json,
})
_spec = st.one_of(_pod_spec, st.fixed_dictionaries({}, optional={
    "replicas": _json, "selector": _json, "template": st.fixed_dictionaries(
        {}, optional={"metadata": _metadata, "spec": _maybe(_pod_spec)}),
    "strategy": _json, "taints": _json, "unschedulable": _json,
}), _json)
# Object-shaped bodies (so the sweep gets past the first check), any JSON, or any bytes.
_object = st.fixed_dictionaries({}, optional={
    "apiVersion": _maybe(_api_versions), "kind": _maybe(_kinds), "metadata": _maybe(_metadata),
    "spec": _spec, "status": _maybe(st.fixed_dictionaries({}, optional={"phase": _json, "conditions": _json})),
})
# The seeded objects with one field anywhere replaced by any JSON: these get past the
# envelope to defaulting, the schema, the semantic checks and the update rules.
_FIELDS: dict[str, list[tuple[Any, ...]]] = {
    "Pod": [("metadata",), ("metadata", "labels"), ("metadata", "annotations"), ("metadata", "resourceVersion"),
            ("metadata", "ownerReferences"), ("metadata", "finalizers"), ("spec",), ("spec", "containers"),
            ("spec", "containers", 0, "resources"), ("spec", "containers", 0, "ports"),
            ("spec", "containers", 0, "name"), ("spec", "nodeName"), ("spec", "platform"),
            ("spec", "tolerations"), ("spec", "affinity"), ("spec", "binding"), ("spec", "overhead"),
            ("status",), ("status", "conditions"), ("status", "phase")],
    "Deployment": [("spec", "replicas"), ("spec", "selector"), ("spec", "template"),
                   ("spec", "template", "metadata"), ("spec", "template", "spec"), ("spec", "strategy"),
                   ("spec", "selector", "matchLabels"), ("spec", "selector", "matchExpressions")],
}


def _replaced(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    parent = out
    for key in path[:-1]:
        parent = parent.setdefault(key, {}) if isinstance(key, str) else parent[key]
    parent[path[-1]] = value
    return out


_mutated = st.one_of(*(
    st.builds(_replaced, st.just(base), st.sampled_from(_FIELDS[base["kind"]]), _json)
    for base in (_POD, _DEPLOYMENT)
))
_body = st.one_of(_mutated.map(lambda o: json.dumps(o).encode()),
                  _object.map(lambda o: json.dumps(o).encode()),
                  _json.map(lambda o: json.dumps(o).encode()), st.binary(max_size=32))
_ref = st.builds(pb.ObjectRef, kind=_kinds, namespace=_names, name=_names)
_text = st.text(max_size=24)
_selector = st.sampled_from(["", "app=d", "a in (b,c)", "!x", "a=b=c", "(", "spec.nodeName=n1"]) | _text
_int64 = st.integers(min_value=-2**63, max_value=2**63 - 1)

_requests = st.one_of(
    st.tuples(st.just("Create"), st.builds(pb.CreateRequest, object=_body)),
    st.tuples(st.just("Update"), st.builds(pb.UpdateRequest, object=_body, status_only=st.booleans())),
    st.tuples(st.just("Apply"), st.builds(pb.ApplyRequest, objects=st.lists(_body, max_size=3),
                                          dry_run=st.booleans())),
    st.tuples(st.just("Get"), st.builds(pb.GetRequest, ref=_ref)),
    st.tuples(st.just("List"), st.builds(pb.ListRequest, kind=_kinds, namespace=_names,
                                         all_namespaces=st.booleans(), label_selector=_selector,
                                         field_selector=_selector)),
    st.tuples(st.just("Delete"), st.builds(
        pb.DeleteRequest, ref=_ref, propagation_policy=st.sampled_from(["", "Orphan", "Foreground", "x"]),
        grace_period_seconds=_int64, precondition_resource_version=st.sampled_from(["", "1", "x"]),
        # dry_run is not a field: deletes here hit objects only by the sampled names
    )),
    st.tuples(st.just("Watch"), st.builds(pb.WatchRequest, kind=_kinds, namespace=_names,
                                          all_namespaces=st.booleans(), label_selector=_selector,
                                          field_selector=_selector, from_revision=_int64)),
    st.tuples(st.just("Logs"), st.builds(pb.LogsRequest, namespace=_names, pod=_names,
                                         container=_names, follow=st.booleans(), tail_lines=_int64)),
)


def _send(s: Any, method: str, request: Any) -> tuple[grpc.StatusCode, str]:
    if method in ("Watch", "Logs"):
        # Streams: an error comes before the first message; one that is simply open and
        # waiting ends at this short client deadline, which is not the server's answer.
        def first() -> None:
            for _ in getattr(s, method)(request, timeout=0.3):
                break
        code, details = _code_and_details(first)
        return (grpc.StatusCode.OK, "") if code is grpc.StatusCode.DEADLINE_EXCEEDED else (code, details)
    return _code_and_details(lambda: getattr(s, method)(request, timeout=10))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(call=_requests)
def test_no_request_breaks_the_server(stub: tuple[Any, ControlPlaneProcess], call: tuple[str, Any]) -> None:
    """Whatever the body or fields of any RPC, the answer is never INTERNAL or UNKNOWN."""
    s, _ = stub
    method, request = call
    code, details = _send(s, method, request)
    event(f"{method} -> {code.name}")  # --hypothesis-show-statistics: what the sweep reached
    assert code not in _BROKEN, f"{method}({request}) -> {code.name}: {details}"


def test_no_traceback_in_the_server_log(stub: tuple[Any, ControlPlaneProcess]) -> None:
    """After all of the above (this runs last in the module), the log holds no crash."""
    _, cp = stub
    logs = cp.logs()
    assert "rpc.internal_error" not in logs
    assert "Traceback" not in logs
