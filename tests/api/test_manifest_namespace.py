"""A context's namespace fills in objects without one but does not override theirs."""

from __future__ import annotations

from pathlib import Path

from mixfleet.api import manifest

DOCS = """
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: other}
spec: {containers: [{name: c, image: busybox}]}
"""


def test_default_namespace_fills_in_only_missing(tmp_path: Path) -> None:
    """default_namespace goes to objects without a namespace; explicit ones stay."""
    f = tmp_path / "pods.yaml"
    f.write_text(DOCS)
    docs = manifest.load([str(f)], default_namespace="team")
    assert [d.obj["metadata"]["namespace"] for d in docs] == ["team", "other"]
