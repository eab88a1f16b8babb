"""Bad manifests: every problem is reported, exactly as the user reads it (file, document
index, object, field path, message), and nothing is returned to apply."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mixfleet.api.kinds import KINDS

from mixfleet.api import manifest

# Kinds added after the first nine, in the order kinds.py lists them (several sessions add kinds).
LATER_KINDS = "".join(f', "{k.kind}"' for k in KINDS[9:])

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      image: busybox
"""

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      containers:
        - name: app
          image: busybox
"""


def pod(extra_spec: str = "", *, container: str = "", meta: str = "") -> str:
    """The minimal POD with lines added to its spec, its container or its metadata."""
    text = POD.replace("metadata:\n", "metadata:\n" + textwrap.indent(textwrap.dedent(meta), "  "))
    text = text.replace("      image: busybox\n", "      image: busybox\n" + textwrap.indent(textwrap.dedent(container), "      "))
    return text + textwrap.indent(textwrap.dedent(extra_spec), "  ")


def deploy(extra_spec: str = "", *, old: str = "", new: str = "") -> str:
    text = DEPLOY.replace(old, new) if old else DEPLOY
    return text + textwrap.indent(textwrap.dedent(extra_spec), "  ")


P = "bad.yaml: document 1: Pod/p: "
D = "bad.yaml: document 1: Deployment/d: "

CASES = [
    pytest.param(pod().replace("containers:", "containres:"), [
        P + 'spec: unknown field "spec.containres" (did you mean "containers"?)',
        P + "spec.containers: required value",
    ], id="unknown-field"),
    pytest.param(POD + "specs: {}\n", [P + 'unknown field "specs" (did you mean "spec"?)'], id="unknown-top-level-field"),
    pytest.param(pod(container="imagePullPolcy: Always\n"), [
        P + 'spec.containers[0]: unknown field "spec.containers[0].imagePullPolcy" (did you mean "imagePullPolicy"?)',
    ], id="unknown-container-field"),
    pytest.param(POD.replace("name: p", "name: Web_0"), [
        "bad.yaml: document 1: Pod/Web_0: metadata.name: invalid value \"Web_0\": a lowercase RFC 1123 subdomain must "
        "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    ], id="bad-name"),
    pytest.param(pod(meta="namespace: my.ns\n"), [
        P + "metadata.namespace: invalid value \"my.ns\": a lowercase RFC 1123 label must consist of lower case "
        "alphanumeric characters or '-', and must start and end with an alphanumeric character",
    ], id="bad-namespace"),
    pytest.param(POD.replace("  name: p\n", ""), ["bad.yaml: document 1: Pod: metadata.name: required value"], id="missing-name"),
    pytest.param(pod(container="resources: {requests: {cpu: abc}}\n"), [
        P + 'spec.containers[0].resources.requests.cpu: invalid quantity "abc"',
    ], id="bad-quantity"),
    pytest.param(pod(container="resources: {limits: {memory: -1Mi}}\n"), [
        P + 'spec.containers[0].resources.limits.memory: invalid quantity "-1Mi": must not be negative',
    ], id="negative-quantity"),
    pytest.param(pod(container="resources: {requests: {cpu: 2, memory: 64Mi}, limits: {cpu: 500m, memory: 64Mi}}\n"), [
        P + "spec.containers[0].resources.requests.cpu: invalid value 2: must be less than or equal to cpu limit of 500m",
    ], id="requests-over-limits"),
    pytest.param(POD.replace("      image: busybox\n", ""), [P + "spec.containers[0].image: required value"], id="missing-image"),
    pytest.param(POD.replace("containers:\n    - name: app\n      image: busybox\n", "containers: []\n"),
                 [P + "spec.containers: required value"], id="empty-containers"),
    pytest.param(POD + "    - name: app\n      image: busybox\n", [
        P + 'spec.containers[1].name: duplicate value "app"',
    ], id="duplicate-container-names"),
    pytest.param(pod(container="name: App\n").replace("    - name: app\n      image: busybox\n      name: App", "    - image: busybox\n      name: App"), [
        P + "spec.containers[0].name: invalid value \"App\": a lowercase RFC 1123 label must consist of lower case "
        "alphanumeric characters or '-', and must start and end with an alphanumeric character",
    ], id="bad-container-name"),
    pytest.param(pod("platform: {os: windows, isolation: vm}\n"), [
        P + 'spec.platform.isolation: unsupported value "vm": supported values: "process", "hyperv", "auto"',
    ], id="bad-isolation"),
    pytest.param(pod("platform: {isolation: hyperv}\n"), [
        P + "spec.platform.isolation: only valid for windows pods (this pod's OS is linux)",
    ], id="isolation-on-linux-pod"),
    pytest.param(pod("platform: {os: windows, osVersion: '20348'}\n"), [
        P + 'spec.platform.osVersion: invalid version "20348": must be a Windows version like 10.0.20348 or 10.0.20348.2655',
    ], id="bad-os-version"),
    pytest.param(pod("platform: {minKernelVersion: 5.10}\n"), [
        P + 'spec.platform.minKernelVersion: must be a string (a kernel version like "5.10" or "5.10.0"), got number 5.1',
    ], id="unquoted-kernel-version"),
    pytest.param(pod("platform: {os: windows}\nnodeSelector: {kubernetes.io/os: linux}\n"), [
        P + 'spec.platform.os: "windows" conflicts with nodeSelector kubernetes.io/os "linux"',
    ], id="platform-os-conflict"),
    pytest.param(pod("platform:\n  os: windows\n  imageOverrides: [{osVersion: 10.0.17763, image: x, container: web}]\n"), [
        P + 'spec.platform.imageOverrides[0].container: container "web" not found',
    ], id="image-override-unknown-container"),
    pytest.param(pod("restartPolicy: Sometimes\n"), [
        P + 'spec.restartPolicy: unsupported value "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ], id="bad-restart-policy"),
    pytest.param(pod("tolerations: [{key: os, operator: Exists, value: windows, effect: NoSchedule}]\n"), [
        P + 'spec.tolerations[0].value: invalid value "windows": must be empty when operator is Exists',
    ], id="toleration-exists-with-value"),
    pytest.param(pod("tolerations: [{key: os, operator: Equal, value: windows, effect: NoScheduling}]\n"), [
        P + 'spec.tolerations[0].effect: unsupported value "NoScheduling": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
    ], id="toleration-bad-effect"),
    pytest.param(pod(container="env: [{name: PORT, value: 8080}]\n"), [
        P + "spec.containers[0].env[0].value: must be a string, got integer 8080",
    ], id="wrong-type-env-value"),
    pytest.param(pod(container="ports: [{containerPort: 70000}]\n"), [
        P + "spec.containers[0].ports[0].containerPort: invalid value 70000: must be less than or equal to 65535",
    ], id="port-out-of-range"),
    pytest.param(pod(meta="labels: {app: 'my app'}\n"), [
        P + "metadata.labels.app: invalid value \"my app\": a valid label must be an empty string or consist of "
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    ], id="bad-label-value"),
    pytest.param(pod(meta="labels: {version: 1.0}\n"), [P + "metadata.labels.version: must be a string, got number 1.0"],
                 id="label-value-not-string"),
    pytest.param(pod(meta="labels: {-app: x}\n"), [
        P + "metadata.labels: invalid value \"-app\": name part must consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
    ], id="bad-label-key"),
    pytest.param(pod("affinity:\n  nodeAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:\n"
                     "      nodeSelectorTerms: [{matchExpressions: [{key: build, operator: Gt, values: [new]}]}]\n"), [
        P + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
        ".matchExpressions[0].values: must be a single integer when operator is Gt",
    ], id="node-affinity-gt-not-integer"),
    pytest.param(DEPLOY.replace("apps/v1", "v1"), [
        'bad.yaml: document 1: Deployment/d: apiVersion: unsupported value "v1" for kind Deployment: supported values: "apps/v1"',
    ], id="wrong-api-version"),
    pytest.param(POD.replace("kind: Pod", "kind: Service"), [
        'bad.yaml: document 1: Service/p: kind: unsupported value "Service": supported values: "Namespace", "Node", '
        '"Pod", "Deployment", "ReplicaSet", "Event", "Lease", "ConfigMap", "Secret"' + LATER_KINDS,
    ], id="unknown-kind"),
    pytest.param(POD.replace("kind: Pod\n", ""), ["bad.yaml: document 1: Object/p: kind: required value"], id="missing-kind"),
    pytest.param(deploy(old="labels: {app: d}", new="labels: {app: web}"), [
        D + "spec.template.metadata.labels: selector app=d does not match template labels",
    ], id="selector-mismatch"),
    pytest.param(deploy(old="  selector:\n    matchLabels: {app: d}\n", new=""), [D + "spec.selector: required value"],
                 id="missing-selector"),
    pytest.param(deploy("replicas: three\n"), [D + 'spec.replicas: must be an integer, got string "three"'], id="wrong-type-replicas"),
    pytest.param(deploy("strategy: {rollingUpdate: {maxSurge: lots}}\n"), [
        D + 'spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage like "25%", got "lots"',
    ], id="bad-max-surge"),
    pytest.param(deploy("strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}\n"), [
        D + "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0",
    ], id="rolling-update-cannot-progress"),
    pytest.param(deploy(old="      containers:", new="      restartPolicy: Never\n      containers:"), [
        D + 'spec.template.spec.restartPolicy: unsupported value "Never": supported values: "Always"',
    ], id="deployment-restart-never"),
    pytest.param("apiVersion: v1\nkind: Node\nmetadata: {name: n1, namespace: default}\n", [
        "bad.yaml: document 1: Node/n1: metadata.namespace: must not be set: Node is not namespaced",
    ], id="cluster-scoped-with-namespace"),
    pytest.param("apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {taints: [{key: os, value: windows}]}\n", [
        "bad.yaml: document 1: Node/n1: spec.taints[0].effect: required value",
    ], id="taint-without-effect"),
    pytest.param(POD + "  containers: []\n", [
        'bad.yaml: document 1: invalid YAML at line 9, column 3: duplicate key "containers"',
    ], id="duplicate-yaml-key"),
    pytest.param(POD + "---\n" + POD.replace("image: busybox", "image: [busybox"), [
        "bad.yaml: document 2: invalid YAML at line 18, column 1: while parsing a flow sequence: expected ',' or ']', "
        "but got '<stream end>'",
    ], id="yaml-syntax-error-in-second-document"),
    pytest.param(POD + "---\n---\n" + POD.replace("busybox", '""'), [
        "bad.yaml: document 3: Pod/p: spec.containers[0].image: required value",
    ], id="third-document-counts-empty-ones"),
    pytest.param("- a\n- b\n", ["bad.yaml: document 1: a document must be a map with apiVersion and kind, got list"],
                 id="document-not-a-map"),
    pytest.param(POD + "---\njust text\n", ["bad.yaml: document 2: a document must be a map with apiVersion and kind, got string"],
                 id="stray-text-document"),
    pytest.param(pod(meta="labels:\n  ? [a, b]\n  : c\n"), [
        "bad.yaml: document 1: invalid YAML at line 5, column 7: mapping keys must be strings, got list",
    ], id="complex-yaml-key"),
    pytest.param("apiVersion: v1\nkind: List\nitems:\n- " + textwrap.indent(POD, "  ").lstrip() + "- 3\n", [
        "bad.yaml: document 1: List: items[1]: must be a map",
    ], id="list-item-not-a-map"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_bad_manifest_reports_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]) -> None:
    """A bad manifest raises ManifestError listing each problem with file, document, object and field."""
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(text)
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(["bad.yaml"])
    assert [str(e) for e in info.value.errors] == expected
    assert str(info.value) == "\n".join(expected)


def test_problems_in_several_files_are_all_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Errors from every file come back together, and the valid file is not returned alone."""
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(POD.replace("busybox", '""'))
    Path("ok.yaml").write_text(DEPLOY)
    Path("b.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {}}')
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(["a.yaml", "ok.yaml", "b.json", "missing.yaml"])
    assert [str(e) for e in info.value.errors] == [
        "a.yaml: document 1: Pod/p: spec.containers[0].image: required value",
        "b.json: document 1: Pod/q: spec.containers: required value",
        "missing.yaml: no such file or directory",
    ]


def test_bad_json_gives_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON syntax error names the file, line and column."""
    monkeypatch.chdir(tmp_path)
    Path("x.json").write_text('{"apiVersion": "v1",\n "kind": }')
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(["x.json"])
    assert str(info.value) == "x.json: document 1: invalid JSON at line 2, column 10: Expecting value"


def test_namespace_flag_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An object naming another namespace than the one asked for is refused, like kubectl -n."""
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(pod(meta="namespace: team-a\n"))
    with pytest.raises(manifest.ManifestError) as info:
        manifest.load(["p.yaml"], namespace="team-b")
    assert str(info.value) == (
        'p.yaml: document 1: Pod/p: metadata.namespace: "team-a" does not match the namespace "team-b" given on the command line'
    )
