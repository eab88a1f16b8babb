"""The import rules that keep the architecture readable (docs/ARCHITECTURE.md, Layering)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROTO_ADAPTERS = {
    "controlplane/server.py",
    "controlplane/client.py",
    "controlplane/logs.py",
    "nodeagent/server.py",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in sorted((REPO / d).rglob("*.py"))]


def _hits(paths: list[Path], prefixes: tuple[str, ...]) -> list[str]:
    return [
        f"{p.relative_to(REPO)} imports {name}"
        for p in paths
        for name in sorted(_imports(p))
        if name.split(".")[0] in prefixes or name in prefixes
    ]


def test_scheduler_is_a_pure_library() -> None:
    """scheduler/ never imports gRPC, Docker, the store, aetcd or the control plane."""
    bad = _hits(_sources("scheduler"), ("grpc", "docker", "store", "aetcd", "controlplane", "proto", "nodeagent"))
    assert bad == []


@pytest.mark.parametrize("package", ["api", "store", "scheduler", "controlplane", "nodeagent", "mixctl", "mixfleet"])
def test_only_adapters_import_generated_protobuf(package: str) -> None:
    """Only the named gRPC adapters import the generated protobuf code."""
    paths = [p for p in _sources(package) if str(p.relative_to(REPO)) not in PROTO_ADAPTERS]
    assert _hits(paths, ("proto",)) == []


def test_only_engines_import_docker_and_only_etcd_store_imports_aetcd() -> None:
    """The Docker SDK stays in nodeagent/engines and aetcd in store/etcd.py (+ election)."""
    all_src = _sources("api", "store", "scheduler", "controlplane", "nodeagent", "mixctl", "mixfleet")
    docker_users = [h for h in _hits(all_src, ("docker",)) if not h.startswith(("nodeagent/engines/", "nodeagent/images.py", "nodeagent/localdockerd.py"))]
    aetcd_users = [h for h in _hits(all_src, ("aetcd",)) if not h.startswith(("store/etcd.py", "store/election.py"))]
    assert docker_users == [] and aetcd_users == []
