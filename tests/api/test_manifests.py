"""Good manifests load: every example in manifests/, directories, stdin, lists, flow style."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mixfleet.api import manifest, objects, pods

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "manifests").glob("*.y*ml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_manifest_is_valid(path: Path) -> None:
    """Each file a user may apply from manifests/ loads without errors."""
    docs = manifest.load([str(path)])
    assert docs and all(d.source == str(path) for d in docs)


def test_examples_directory_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory loads its files sorted by name, documents in order, List items expanded."""
    monkeypatch.chdir(REPO)
    docs = manifest.load(["manifests"])
    assert [(d.source, d.index, objects.describe(d.obj)) for d in docs] == [
        ("manifests/batch.yaml", 1, "Job/count-to-three"),
        ("manifests/batch.yaml", 2, "CronJob/every-minute"),
        ("manifests/config-app.yaml", 1, "ConfigMap/site"),
        ("manifests/config-app.yaml", 2, "Secret/site-credentials"),
        ("manifests/config-app.yaml", 3, "Deployment/site"),
        ("manifests/daemonset.yaml", 1, "DaemonSet/node-logger"),
        ("manifests/daemonset.yaml", 2, "DaemonSet/windows-monitor"),
        ("manifests/data.yaml", 1, "PersistentVolumeClaim/data"),
        ("manifests/data.yaml", 2, "Deployment/logger"),
        ("manifests/linux-ebpf.yaml", 1, "Deployment/ebpf-tracer"),
        ("manifests/namespace.yaml", 1, "Namespace/windows-apps"),
        ("manifests/namespace.yaml", 1, "Namespace/linux-apps"),
        ("manifests/sidecar.yaml", 1, "Deployment/sidecar"),
        ("manifests/web.yaml", 1, "Pod/web-0"),
        ("manifests/web.yaml", 2, "Deployment/web"),
        ("manifests/windows-iis.yaml", 1, "Deployment/iis"),
        ("manifests/windows-legacy-hyperv.yaml", 1, "Deployment/legacy-app"),
        ("manifests/windows-legacy-hyperv.yaml", 2, "Pod/legacy-oneshot"),
        ("manifests/windows-per-build.yaml", 1, "Deployment/per-build"),
    ]


def test_web_example_is_linux_busybox() -> None:
    """web.yaml holds the Linux pod web-0 and deployment web that `mixfleet dev` runs locally."""
    docs = {objects.describe(d.obj): d.obj for d in manifest.load([str(REPO / "manifests/web.yaml")])}
    pod, deploy = docs["Pod/web-0"], docs["Deployment/web"]
    assert pods.pod_os(pod) == "linux" and pods.pod_os(deploy["spec"]["template"]) == "linux"
    assert pod["spec"]["containers"][0]["image"] == "mixfleet/busybox:latest"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_windows_examples_ask_for_isolation() -> None:
    """The Windows examples resolve to the isolation each one documents."""
    docs = {objects.describe(d.obj): d.obj for d in manifest.load(
        [str(REPO / "manifests" / n) for n in ("windows-iis.yaml", "windows-legacy-hyperv.yaml", "windows-per-build.yaml")])}
    template = lambda name: docs[name]["spec"]["template"]  # noqa: E731
    assert pods.isolation(template("Deployment/iis")) == "auto"
    assert pods.isolation(template("Deployment/legacy-app")) == "hyperv"
    assert pods.isolation(docs["Pod/legacy-oneshot"]) == "hyperv"
    assert pods.isolation(template("Deployment/per-build")) == "process"
    assert all(pods.pod_os(template(n)) == "windows" for n in ("Deployment/iis", "Deployment/legacy-app"))


def test_stdin_and_defaults() -> None:
    """"-" reads stdin; objects come back defaulted (namespace, restart policy, replicas)."""
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n"
    (doc,) = manifest.load(["-"], stdin=io.StringIO(text), namespace="team-a")
    assert (doc.source, doc.index) == ("-", 1)
    assert doc.obj["metadata"]["namespace"] == "team-a"
    assert doc.obj["spec"]["restartPolicy"] == "Always"


def test_directory_recursion_and_json(tmp_path: Path) -> None:
    """Subdirectories are read only with recursive=True; .json files load; other files are ignored."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.json").write_text('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}')
    (tmp_path / "sub" / "b.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert [objects.name(d.obj) for d in manifest.load([str(tmp_path)])] == ["a"]
    assert [objects.name(d.obj) for d in manifest.load([str(tmp_path)], recursive=True)] == ["a", "b"]


def test_timestamps_stay_strings_and_anchors_are_not_shared(tmp_path: Path) -> None:
    """YAML timestamps load as the strings written; anchored maps become independent copies."""
    f = tmp_path / "x.yaml"
    f.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  creationTimestamp: 2024-05-01T12:00:00Z\n"
        "  labels: &l {team: x}\n  annotations: *l\n"
    )
    (doc,) = manifest.load([str(f)])
    meta = doc.obj["metadata"]
    assert meta["creationTimestamp"] == "2024-05-01T12:00:00Z"
    assert meta["labels"] == meta["annotations"] and meta["labels"] is not meta["annotations"]


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    """A file of comments and empty documents loads as no objects."""
    f = tmp_path / "empty.yaml"
    f.write_text("# nothing yet\n---\n---\n")
    assert manifest.load([str(f)]) == []
