"""PersistentVolumeClaims through mixctl against a real control plane: apply, get pvc,
describe, the fields Mixfleet refuses, the protection finalizer, delete."""

from __future__ import annotations

import json
import time

from tests.cli.conftest import Mixctl

CLAIM = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: NAME, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
"""


def _claim(name: str, extra: str = "") -> str:
    return CLAIM.replace("NAME", name) + extra


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_a_claim_is_pending_until_a_pod_uses_it(mixctl: Mixctl) -> None:
    """get pvc: kubectl's columns with the claim's node in place of its volume."""
    res = mixctl("apply", "-f", "-", input=_claim("data"))
    assert (res.returncode, res.stdout.strip()) == (0, "persistentvolumeclaim/data created"), res.stderr
    rows = _rows(mixctl("get", "pvc", "-n", "default").stdout)
    assert rows[0] == ["NAME", "STATUS", "NODE", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "AGE"]
    assert rows[1][:5] == ["data", "Pending", "<none>", "RWO", "local"]
    obj = json.loads(mixctl("get", "pvc", "data", "-n", "default", "-o", "json").stdout)
    assert obj["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert obj["spec"]["storageClassName"] == "local" and obj["spec"]["volumeMode"] == "Filesystem"
    described = mixctl("describe", "pvc", "data", "-n", "default").stdout
    for line in ("StorageClass:", "Status:", "Pending", "Requested:", "2Gi", "Used By:", "<none>",
                 "kubernetes.io/pvc-protection"):
        assert line in described, described
    again = mixctl("apply", "-f", "-", input=_claim("data"))
    assert "persistentvolumeclaim/data unchanged" in again.stdout, again


REFUSED = {
    "class": ("  storageClassName: standard\n",
              'spec.storageClassName: "standard" is not supported by Mixfleet (supported: "local"'),
    "volume": ("  volumeName: pv-1\n", "spec.volumeName: not supported by Mixfleet"),
    "selector": ("  selector: {matchLabels: {a: b}}\n", "spec.selector: not supported by Mixfleet"),
    "block": ("  volumeMode: Block\n", 'spec.volumeMode: "Block" is not supported by Mixfleet'),
    "limits": ("", "spec.resources.limits: not supported by Mixfleet"),
    "rwx": ("", 'spec.accessModes[0]: "ReadWriteMany" is not supported by Mixfleet: the data lives on one node'),
}


def test_fields_mixfleet_does_not_honour_are_refused(mixctl: Mixctl) -> None:
    """Each refused field named, in one apply that writes nothing."""
    docs = [_claim(name, extra) for name, (extra, _) in REFUSED.items()]
    docs[4] = docs[4].replace("{storage: 2Gi}}", "{storage: 2Gi}, limits: {storage: 3Gi}}")
    docs[5] = docs[5].replace("[ReadWriteOnce]", "[ReadWriteMany]")
    res = mixctl("apply", "-f", "-", input="---\n".join(docs))
    assert res.returncode == 1
    for i, (name, (_, message)) in enumerate(REFUSED.items(), start=1):
        assert f"document {i}: PersistentVolumeClaim/{name}: {message}" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert mixctl("get", "pvc", "class", "-n", "default").returncode != 0


def test_storage_is_required_and_the_spec_is_immutable(mixctl: Mixctl) -> None:
    res = mixctl("apply", "-f", "-", input=_claim("nosize").replace("resources: {requests: {storage: 2Gi}}", "resources: {}"))
    assert res.returncode == 1 and "spec.resources.requests.storage: required value" in res.stderr
    assert mixctl("apply", "-f", "-", input=_claim("fixed")).returncode == 0
    res = mixctl("apply", "-f", "-", input=_claim("fixed").replace("2Gi", "3Gi"))
    assert res.returncode == 1 and "spec: field is immutable after creation" in res.stderr, res.stderr


def test_an_unused_claim_is_deleted(mixctl: Mixctl) -> None:
    """The finalizer goes at once when no pod uses the claim, and the claim with it."""
    assert mixctl("apply", "-f", "-", input=_claim("gone")).returncode == 0
    res = mixctl("delete", "pvc", "gone", "-n", "default")
    assert res.returncode == 0, res.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if mixctl("get", "pvc", "gone", "-n", "default").returncode != 0:
            return
        time.sleep(0.2)
    raise AssertionError("the unused claim was never removed")
