"""ConfigMaps and Secrets (issue 10, item 1) through mixctl, as a user has them in kubectl:
create from literals and files, get, describe, apply with stringData, immutable. A Secret's
values never appear in mixctl's output, in errors or in the control plane's log."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.cli.conftest import Mixctl
from tests.fixtures.controlplane import ControlPlaneProcess

SECRET_VALUE = "hunter2-do-not-print"


def _table(out: str) -> list[dict[str, str]]:
    lines = out.strip().splitlines()
    heads = lines[0].split()
    return [dict(zip(heads, line.split())) for line in lines[1:]]


def _json(mixctl: Mixctl, *args: str) -> dict:
    res = mixctl("get", *args, "-o", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_a_generic_secret_from_literals_and_files(mixctl: Mixctl, cp: ControlPlaneProcess, tmp_path: Path) -> None:
    """create secret generic: keys from --from-literal and --from-file, base64 in data; get
    shows TYPE and DATA; describe shows sizes, not values; nothing logs the value."""
    key_file = tmp_path / "tls.key"
    key_file.write_bytes(b"\x00\x01binary")
    res = mixctl("create", "secret", "generic", "db", "-n", "default",
                 f"--from-literal=password={SECRET_VALUE}", f"--from-file={key_file}")
    assert (res.returncode, res.stdout.strip()) == (0, "secret/db created"), res.stderr
    rows = {r["NAME"]: r for r in _table(mixctl("get", "secrets", "-n", "default").stdout)}
    assert rows["db"]["TYPE"] == "Opaque" and rows["db"]["DATA"] == "2"
    data = _json(mixctl, "secret", "db", "-n", "default")["data"]
    assert base64.b64decode(data["password"]).decode() == SECRET_VALUE
    assert base64.b64decode(data["tls.key"]) == b"\x00\x01binary"
    described = mixctl("describe", "secret", "db", "-n", "default").stdout
    assert f"password:  {len(SECRET_VALUE)} bytes" in described
    assert SECRET_VALUE not in described
    assert SECRET_VALUE not in cp.logs()


def test_a_docker_registry_secret(mixctl: Mixctl) -> None:
    res = mixctl("create", "secret", "docker-registry", "regcred", "-n", "default",
                 "--docker-server=127.0.0.1:5000", "--docker-username=u", "--docker-password=p")
    assert res.returncode == 0, res.stderr
    obj = _json(mixctl, "secret", "regcred", "-n", "default")
    assert obj["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(obj["data"][".dockerconfigjson"]))
    assert config["auths"]["127.0.0.1:5000"]["auth"] == base64.b64encode(b"u:p").decode()


def test_a_configmap_from_literals_and_files_and_get_cm(mixctl: Mixctl, tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("mode=prod\n")
    res = mixctl("create", "configmap", "app", "-n", "default", "--from-literal=level=debug",
                 f"--from-file=settings={conf}")
    assert res.returncode == 0, res.stderr
    rows = {r["NAME"]: r for r in _table(mixctl("get", "cm", "-n", "default").stdout)}
    assert rows["app"]["DATA"] == "2"
    assert _json(mixctl, "configmap", "app", "-n", "default")["data"] == {
        "level": "debug", "settings": "mode=prod\n"}


def test_string_data_is_stored_as_data(mixctl: Mixctl) -> None:
    """stringData is write-only, as in Kubernetes: the stored Secret holds it base64 in data."""
    manifest = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\n"
                f"stringData: {{token: {SECRET_VALUE}}}\n")
    res = mixctl("apply", "-f", "-", input=manifest)
    assert res.returncode == 0, res.stderr
    obj = _json(mixctl, "secret", "s", "-n", "default")
    assert "stringData" not in obj
    assert base64.b64decode(obj["data"]["token"]).decode() == SECRET_VALUE
    again = mixctl("apply", "-f", "-", input=manifest)
    assert "secret/s unchanged" in again.stdout, again


def test_an_immutable_configmap_keeps_its_data(mixctl: Mixctl) -> None:
    base = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen, namespace: default}\nimmutable: true\n"
    assert mixctl("apply", "-f", "-", input=base + "data: {a: '1'}\n").returncode == 0
    res = mixctl("apply", "-f", "-", input=base + "data: {a: '2'}\n")
    assert res.returncode == 1
    assert "data: field is immutable when `immutable` is set" in res.stderr
    assert _json(mixctl, "configmap", "frozen", "-n", "default")["data"] == {"a": "1"}


def test_a_bad_secret_value_is_refused_without_showing_it(mixctl: Mixctl) -> None:
    manifest = ("apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: default}\n"
                f"data: {{pw: '{SECRET_VALUE}!'}}\n")
    res = mixctl("apply", "-f", "-", input=manifest)
    assert res.returncode == 1
    assert "data.pw: must be base64 (value not shown)" in res.stderr
    assert SECRET_VALUE not in res.stderr + res.stdout


def test_unsupported_secret_types_are_refused(mixctl: Mixctl) -> None:
    manifest = "apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: default}\ntype: kubernetes.io/tls\n"
    res = mixctl("apply", "-f", "-", input=manifest)
    assert res.returncode == 1
    assert 'type: "kubernetes.io/tls" is not supported by Mixfleet' in res.stderr
