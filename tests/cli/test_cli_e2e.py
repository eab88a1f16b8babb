"""mixctl end to end: a subprocess against a real control plane process, as a user runs it."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Mixctl

AGE = re.compile(r"^\d+(s|m|h|d|y)(\d+(s|m|h|d))?$")


def _manifests(dir: Path, ns: str) -> Path:
    """A directory with a namespace, a bare pod and a deployment in that namespace."""
    dir.mkdir(parents=True, exist_ok=True)
    (dir / "00-namespace.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    (dir / "web.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-0", "namespace": ns, "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "httpd", "image": "mixfleet/busybox:latest",
                                  "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}}}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web-d"}},
                  "template": {"metadata": {"labels": {"app": "web-d"}},
                               "spec": {"containers": [{"name": "httpd", "image": "mixfleet/busybox:latest"}]}}}},
    ]))
    return dir


def _table(text: str) -> list[dict[str, str]]:
    """Parse an aligned table by its header's column offsets; fails when a cell is misaligned."""
    lines = text.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)?", lines[0])]
    heads = [lines[0][s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 1] == " " and line[s] != " ", f"misaligned at {s}: {line!r}"
        rows.append({h: line[s:e].strip() for h, s, e in zip(heads, starts, starts[1:] + [None])})
    return rows


def _no_traceback(proc: object) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout  # type: ignore[attr-defined]


def test_apply_dir_then_get_table(mixctl: Mixctl, tmp_path: Path) -> None:
    """apply -f DIR creates everything and says so; get prints aligned columns with an AGE."""
    d = _manifests(tmp_path / "m", "apply-get")
    first = mixctl("apply", "-f", str(d))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "namespace/apply-get created", "pod/web-0 created", "deployment.apps/web created"]
    again = mixctl("apply", "-f", str(d))
    assert "pod/web-0 unchanged" in again.stdout.splitlines()

    pods = mixctl("get", "pods", "-n", "apply-get")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = next(r for r in _table(pods.stdout) if r["NAME"] == "web-0")
    assert row["READY"] == "0/1" and row["RESTARTS"] == "0" and AGE.match(row["AGE"])
    assert row["STATUS"] in ("Pending", "ContainerCreating")

    deploys = mixctl("get", "deploy", "-n", "apply-get")
    assert _table(deploys.stdout)[0]["NAME"] == "web"
    assert deploys.stdout.split("\n")[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]


def test_apply_stdin_dry_run_writes_nothing(mixctl: Mixctl) -> None:
    """apply -f - --dry-run reads stdin, reports what would happen, and creates nothing."""
    proc = mixctl("apply", "-f", "-", "--dry-run", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: dry}\n")
    assert (proc.returncode, proc.stdout) == (0, "namespace/dry created (dry run)\n"), proc.stderr
    assert mixctl("get", "ns", "dry").returncode == 1


def test_get_all_namespaces_and_several_kinds(mixctl: Mixctl, tmp_path: Path) -> None:
    """-A adds a NAMESPACE column; several kinds print kind/name rows per kind."""
    mixctl("apply", "-f", str(_manifests(tmp_path / "m", "many")))
    allns = mixctl("get", "po", "-A")
    assert {"NAMESPACE": "many", "NAME": "web-0"}.items() <= next(
        r for r in _table(allns.stdout) if r["NAMESPACE"] == "many").items()
    both = mixctl("get", "po,deploy", "-n", "many", "-l", "app=web", "-o", "name")
    assert both.stdout.splitlines() == ["pod/web-0", "deployment.apps/web"]
    assert "pod/web-0" in mixctl("get", "po,deploy", "-n", "many").stdout


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_get_one_object_or_a_list(mixctl: Mixctl, tmp_path: Path, fmt: str) -> None:
    """-o yaml|json of one named object prints it; of a kind prints a List of items."""
    mixctl("apply", "-f", str(_manifests(tmp_path / "m", f"out-{fmt}")))
    load = yaml.safe_load if fmt == "yaml" else json.loads
    one = load(mixctl("get", "pod", "web-0", "-n", f"out-{fmt}", "-o", fmt).stdout)
    assert (one["kind"], one["metadata"]["name"]) == ("Pod", "web-0")
    many = load(mixctl("get", "pods", "-n", f"out-{fmt}", "-l", "app=web", "-o", fmt).stdout)
    assert many["kind"] == "List" and [i["metadata"]["name"] for i in many["items"]] == ["web-0"]


def test_empty_namespace_says_no_resources(mixctl: Mixctl) -> None:
    """An empty list says so on stderr and still exits 0."""
    proc = mixctl("get", "pods", "-n", "nothing-here")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "No resources found in nothing-here namespace.\n")


def test_describe_unscheduled_pod(mixctl: Mixctl, tmp_path: Path) -> None:
    """describe shows the pod, its containers, and why the scheduler could not place it."""
    d = _manifests(tmp_path / "m", "desc")
    (d / "web.yaml").write_text((d / "web.yaml").read_text().replace("cpu: 50m", "cpu: '5000'"))
    mixctl("apply", "-f", str(d))
    deadline = time.monotonic() + 30  # the scheduler works asynchronously: wait for its verdict
    while True:
        proc = mixctl("describe", "pod", "web-0", "-n", "desc")
        assert proc.returncode == 0, proc.stderr
        if "FailedScheduling" in proc.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert ["Name:", "web-0"] in lines and ["Namespace:", "desc"] in lines
    assert ["Image:", "mixfleet/busybox:latest"] in lines
    assert ["cpu:", "5000"] in lines  # the container's requests
    scheduled = next(line for line in lines if line[:1] == ["PodScheduled"])
    assert scheduled[1:3] == ["False", "Unschedulable"] and " ".join(scheduled[3:]).startswith("0/")
    event = next(line for line in lines if line[:2] == ["Warning", "FailedScheduling"])
    assert " ".join(event).endswith(" ".join(scheduled[3:]))  # the same "0/N nodes are available" message


def test_delete_by_file_and_not_found(mixctl: Mixctl, tmp_path: Path) -> None:
    """delete -f removes what the files name; a second delete is a NotFound error, exit 1."""
    d = _manifests(tmp_path / "m", "del")
    mixctl("apply", "-f", str(d))
    (d / "00-namespace.yaml").unlink()  # keep the namespace, delete what is in it
    gone = mixctl("delete", "-f", str(d), "--grace-period", "0")
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.splitlines() == ['pod "web-0" deleted', 'deployment.apps "web" deleted']
    again = mixctl("delete", "pod", "web-0", "-n", "del")
    assert (again.returncode, again.stderr) == (1, 'Error from server (NotFound): pods "web-0" not found\n')
    assert mixctl("delete", "pod", "web-0", "-n", "del", "--ignore-not-found").returncode == 0
    get = mixctl("get", "pod", "web-0", "-n", "del")
    assert (get.returncode, get.stderr) == (1, 'Error from server (NotFound): pods "web-0" not found\n')


def test_bad_manifest_applies_nothing(mixctl: Mixctl, tmp_path: Path) -> None:
    """One invalid document: every error is printed with where it is, and nothing is applied."""
    d = _manifests(tmp_path / "m", "bad")
    (d / "zz-bad.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: broken, namespace: bad}\n"
        "spec:\n  containers:\n  - name: c\n    image: x\n    resources: {requests: {cpu: abc}}\n"
    )
    proc = mixctl("apply", "-f", str(d))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"error: {d / 'zz-bad.yaml'}: document 1: Pod/broken: "
        'spec.containers[0].resources.requests.cpu: invalid quantity "abc"\n'
        "nothing was applied: 1 document with errors\n"
    )
    _no_traceback(proc)
    assert mixctl("get", "ns", "bad").returncode == 1  # not even the valid namespace was created


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    """No server: one clear line naming the address, exit 1, no traceback."""
    port = _closed_port()
    proc = Mixctl(server=f"127.0.0.1:{port}", config=tmp_path / "c")("get", "pods")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"error: cannot reach the control plane at 127.0.0.1:{port}: connection refused "
        "(is 'mixfleet dev' running?)\n"
    )


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        pytest.param(["get", "gadgets"], 'error: the server doesn\'t have a resource type "gadgets"', id="unknown-kind"),
        pytest.param(["get"], "error: the following arguments are required", id="usage"),
        pytest.param(["logs", "nope"], "Error from server (NotFound): ", id="logs-missing-pod"),
    ],
)
def test_user_errors_are_one_line(mixctl: Mixctl, args: list[str], stderr: str) -> None:
    """Mistakes are reported on stderr without a traceback and exit 1."""
    proc = mixctl(*args)
    assert proc.returncode == 1 and proc.stderr.startswith(stderr)
    _no_traceback(proc)


def test_config_contexts(mixctl: Mixctl, cp: object) -> None:
    """set-context/use-context pick the server; a flag still beats the context."""
    bare = Mixctl(server="", config=mixctl.config)
    assert bare("config", "current-context").returncode == 1
    assert bare("config", "set-context", "dev", "--server", mixctl.server, "-n", "kube").stdout == 'Context "dev" created.\n'
    dead = f"127.0.0.1:{_closed_port()}"
    assert bare("config", "set-context", "dead", "--server", dead).returncode == 0
    assert bare("config", "current-context").stdout == "dev\n"
    listed = _table(bare("config", "get-contexts").stdout)
    assert listed == [
        {"CURRENT": "*", "NAME": "dev", "SERVER": mixctl.server, "NAMESPACE": "kube"},
        {"CURRENT": "", "NAME": "dead", "SERVER": dead, "NAMESPACE": "default"},
    ]
    assert bare("get", "ns", "default").returncode == 0  # through context "dev"
    assert bare("get", "pods").stderr == "No resources found in kube namespace.\n"
    assert bare("config", "use-context", "dead").stdout == 'Switched to context "dead".\n'
    assert "cannot reach the control plane at " + dead in bare("get", "ns").stderr
    assert bare("--server", mixctl.server, "get", "ns", "default").returncode == 0
    assert bare("config", "use-context", "nope").stderr == 'error: no context exists with the name: "nope"\n'


def test_cordon_and_scale(mixctl: Mixctl, tmp_path: Path) -> None:
    """cordon marks a node SchedulingDisabled (uncordon undoes it); scale sets replicas."""
    node = tmp_path / "node.yaml"
    node.write_text("apiVersion: v1\nkind: Node\nmetadata:\n  name: cli-node\n  labels: {kubernetes.io/os: linux}\n")
    assert mixctl("apply", "-f", str(node)).returncode == 0
    assert mixctl("cordon", "cli-node").stdout == "node/cli-node cordoned\n"
    assert mixctl("cordon", "cli-node").stdout == "node/cli-node already cordoned\n"
    assert _table(mixctl("get", "no", "cli-node").stdout)[0]["STATUS"].endswith(",SchedulingDisabled")
    assert mixctl("uncordon", "cli-node").stdout == "node/cli-node uncordoned\n"
    assert "SchedulingDisabled" not in mixctl("get", "no", "cli-node").stdout

    mixctl("apply", "-f", str(_manifests(tmp_path / "m", "scale")))
    assert mixctl("scale", "deploy", "web", "--replicas", "5", "-n", "scale").stdout == "deployment.apps/web scaled\n"
    spec = json.loads(mixctl("get", "deploy", "web", "-n", "scale", "-o", "json").stdout)["spec"]
    assert spec["replicas"] == 5


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "terminate"])
def test_watch_prints_changes(mixctl: Mixctl, tmp_path: Path, stop: signal.Signals) -> None:
    """get -w prints the list, then a row per change, and ends cleanly when stopped."""
    ns = f"watch-{stop.name.lower()}"
    mixctl("apply", "-f", str(_manifests(tmp_path / "m", ns)))
    watcher = mixctl.popen("get", "deploy", "-n", ns, "-w")
    # A hang must fail the test, not the suite: killing the watcher ends readline() with EOF.
    guard = threading.Timer(60, watcher.kill)
    guard.start()
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[:2] == ["NAME", "READY"]
        assert watcher.stdout.readline().split()[:2] == ["web", "0/2"]
        assert mixctl("scale", "deploy", "web", "--replicas", "3", "-n", ns).returncode == 0
        # Controllers may also write status; the scaled spec shows up in some next row.
        seen = [watcher.stdout.readline().split()[:2] for _ in range(1)]
        while seen[-1] != ["web", "0/3"] and seen[-1]:
            seen.append(watcher.stdout.readline().split()[:2])
        assert seen[-1] == ["web", "0/3"]
        watcher.send_signal(stop)
        _, err = watcher.communicate(timeout=20)
    finally:
        guard.cancel()
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0 and "Traceback" not in err
