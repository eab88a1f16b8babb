"""Hostile manifests and quantities (issue 11, item 7) get a clear error, never a hang, a
crash or gigabytes of memory.

Before: a YAML alias bomb made `mixctl apply` run 113 s and grow to 5.9 GB before
MemoryError; a 10,000-deep document failed with a bare RecursionError; `memory: "1e1000000"`
blocked every RPC of the control plane for 26 s (math.ceil of a huge Decimal on the event
loop), and again on every restart while the pod existed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mixfleet.api import manifest, quantity
from mixfleet.client import Client, InvalidError
from tests.cli.conftest import Mixctl, cp, mixctl  # noqa: F401 (fixtures)


def _bomb(levels: int) -> str:
    """A ConfigMap whose last key stands for 9**levels strings, in a few hundred bytes."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}", "data:",
             '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_without_being_expanded() -> None:
    """A bomb of 9**12 (about 3e11) values is refused as too large: were it walked even
    once, this test would not finish."""
    with pytest.raises(manifest.ManifestError) as e:
        manifest.load(["-"], stdin=io.StringIO(_bomb(12)))
    assert "document 1: document refused: stands for more than 1,000,000 values" in str(e.value)


def test_a_deeply_nested_yaml_document_is_a_clear_error() -> None:
    """10,000 nested lists: an error naming the limit, not a RecursionError."""
    with pytest.raises(manifest.ManifestError) as e:
        manifest.load(["-"], stdin=io.StringIO("a: " + "[" * 10_000 + "]" * 10_000 + "\n"))
    assert "nested more than 100 deep" in str(e.value)


def test_a_deeply_nested_json_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(manifest.ManifestError) as e:
        manifest.load([str(path)])
    assert f"{path}: document 1: document refused: nested more than 100 deep" in str(e.value)


def test_an_object_nested_past_the_limit_is_refused() -> None:
    """Nesting of 150 (which broke `get -o yaml` for a whole namespace once stored)."""
    obj: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}}
    inner: dict = obj
    for _ in range(150):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(manifest.ManifestError, match="nested more than 100 deep"):
        manifest.load(["-"], stdin=io.StringIO(json.dumps(obj)))


@pytest.mark.parametrize("q", ["1e1000000", "1e1500000", "8Ei", "1" * 100])
def test_huge_quantities_are_refused_cheaply(q: str) -> None:
    """Quantities above int64 (as Kubernetes keeps them) or absurdly long are invalid."""
    with pytest.raises(quantity.QuantityError):
        quantity.memory_bytes(q)
    with pytest.raises(quantity.QuantityError):
        quantity.cpu_millis(q)


def test_largest_quantities_still_parse() -> None:
    assert quantity.memory_bytes("7Ei") == 7 * 2**60
    assert quantity.cpu_millis("9e15") == 9 * 10**18


async def test_the_server_refuses_a_huge_quantity(client: Client) -> None:
    """A client that skips mixctl still gets INVALID_ARGUMENT naming the field, and the
    control plane keeps answering."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "busybox:latest",
                                    "resources": {"requests": {"memory": "1e1000000"}}}]}}
    with pytest.raises(InvalidError) as e:
        await client.create(pod)
    assert "spec.containers[0].resources.requests.memory" in e.value.message
    assert "must be at most" in e.value.message
    pods, _ = await client.list("Pod", namespace="default")
    assert pods == []


def test_mixctl_apply_of_a_bomb_exits_1_naming_the_problem(mixctl: Mixctl) -> None:  # noqa: F811
    res = mixctl("apply", "-f", "-", input=_bomb(12))
    assert res.returncode == 1
    assert "document refused: stands for more than 1,000,000 values" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_json_manifest_with_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """Before: the last "spec" won silently, applying something other than what a reader
    of the file sees (the YAML loader already refused it)."""
    path = tmp_path / "pod.json"
    path.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},'
                    ' "spec": {"containers": []}, "spec": {"containers": [{"name": "c", "image": "x"}]}}')
    with pytest.raises(manifest.ManifestError) as e:
        manifest.load([str(path)])
    assert 'duplicate key "spec"' in str(e.value)


async def test_the_server_refuses_a_body_with_a_key_given_twice(client: Client) -> None:
    from mixfleet.proto import mixfleet_pb2 as pb

    body = (b'{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"},'
            b' "metadata": {"name": "b"}}')
    with pytest.raises(InvalidError) as e:
        await client._call("Create", pb.CreateRequest(object=body))
    assert 'duplicate key "metadata"' in e.value.message
    names = [n["metadata"]["name"] for n in (await client.list("Namespace"))[0]]
    assert "a" not in names and "b" not in names
