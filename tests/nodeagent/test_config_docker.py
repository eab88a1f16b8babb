"""ConfigMaps and Secrets reaching containers on a real dockerd: as environment variables
and as files, edits seen in the files without a restart, a missing Secret holding the
container in CreateContainerConfigError until it is created."""

from __future__ import annotations

import base64

import pytest

from tests.nodeagent.builders import eventually
from tests.nodeagent.test_volumes_docker import NS, node, volume_pod  # noqa: F401 (fixture)

pytestmark = pytest.mark.docker
SECRET_VALUE = "s3cr3t-VALUE-42"


def configmap(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


def secret(name: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
            "stringData": data}


async def env_of(node, pod: str) -> dict[str, str]:
    code, out = await node.run(pod, "app", "env")
    assert code == 0
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


async def test_configmap_and_secret_as_env_and_files(node, client, capfd):
    """Keys become variables (env valueFrom, envFrom with a prefix, fieldRef, resourceFieldRef)
    and files (all keys, or items at paths with modes); the Secret's files are read-only."""
    await client.create(configmap("app", {"mode": "prod", "app.conf": "threads=4\n"}))
    await client.create(secret("db", {"password": SECRET_VALUE, "user": "admin"}))
    pod = volume_pod("cfg", node.name, [{
        "name": "app", "command": ["sleep", "600"],
        "resources": {"limits": {"memory": "64Mi"}},
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "mode"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "DSN", "value": "$(DB_user)@db?mode=$(MODE)&x=$$(MODE)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
            {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "nope", "optional": True}}},
        ],
        "envFrom": [{"prefix": "DB_", "secretRef": {"name": "db"}}, {"configMapRef": {"name": "absent", "optional": True}}],
        "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"},
                         {"name": "creds", "mountPath": "/etc/creds"}],
    }], [
        {"name": "conf", "configMap": {"name": "app"}},
        {"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400,
                                     "items": [{"key": "password", "path": "db/pw", "mode": 0o440}]}},
    ])
    pod["metadata"]["labels"] = {"tier": "backend"}
    created = await client.create(pod)
    env = await eventually(lambda: env_of(node, "cfg"))
    assert env["MODE"] == "prod" and env["PASSWORD"] == SECRET_VALUE
    assert env["DB_password"] == SECRET_VALUE and env["DB_user"] == "admin"
    assert env["DSN"] == "admin@db?mode=prod&x=$(MODE)"
    assert (env["POD"], env["NODE"], env["UID"]) == ("cfg", node.name, created["metadata"]["uid"])
    assert env["TIER"] == "backend" and env["MEM_MI"] == "64" and "GONE" not in env
    code, out = await node.run("cfg", "app", "sh", "-c",
                               "cat /etc/app/mode; echo; cat /etc/app/app.conf; cat /etc/creds/db/pw; echo;"
                               " stat -L -c %a /etc/creds/db/pw; ls /etc/creds; grep ' /etc/creds ' /proc/mounts | cut -d' ' -f3")
    # The Secret's files are on a tmpfs: its values never touch the node's disk.
    assert code == 0 and out.splitlines() == ["prod", "threads=4", SECRET_VALUE, "440", "db", "tmpfs"]
    code, out = await node.run("cfg", "app", "sh", "-c", "echo x > /etc/app/new")
    assert code != 0 and "Read-only file system" in out
    out, err = capfd.readouterr()
    assert SECRET_VALUE not in out + err  # no log line of agent or control plane holds it
    events, _ = await client.list("Event", namespace=NS)
    assert all(SECRET_VALUE not in str(e) for e in events)


async def test_configmap_edit_reaches_the_file_without_a_restart(node, client):
    """An edited ConfigMap is seen in the mounted file while the container keeps running."""
    await client.create(configmap("live", {"greeting": "hello"}))
    await client.create(volume_pod("watcher", node.name, [{
        "name": "app", "command": ["sleep", "600"],
        "volumeMounts": [{"name": "conf", "mountPath": "/conf"}],
    }], [{"name": "conf", "configMap": {"name": "live"}}]))
    cid = await eventually(lambda: node.container_id("watcher", "app"))
    assert await _cat(node, "/conf/greeting") == "hello"
    cm = await client.get("ConfigMap", "live", NS)
    cm["data"] = {"greeting": "bonjour", "extra": "1"}
    await client.update(cm)

    async def updated() -> bool:
        return await _cat(node, "/conf/greeting") == "bonjour" and await _cat(node, "/conf/extra") == "1"

    await eventually(updated)
    assert await node.container_id("watcher", "app") == cid
    pod = await client.get("Pod", "watcher", NS)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


async def _cat(node, path: str) -> str | None:
    code, out = await node.run("watcher", "app", "cat", path)
    return out.strip() if code == 0 else None


async def test_missing_secret_waits_in_create_container_config_error(node, client, capfd):
    """A pod whose env needs a Secret that does not exist waits in CreateContainerConfigError
    with the kubelet's reason; it starts once the Secret is created, then a missing key is
    reported the same way."""
    await client.create(volume_pod("needs", node.name, [{
        "name": "app", "command": ["sleep", "600"],
        "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "later", "key": "pw"}}}],
    }], []))
    waiting = await eventually(lambda: node.waiting("needs"))
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'secret "later" not found'}
    pod = await client.get("Pod", "needs", NS)
    assert pod["status"]["phase"] == "Pending"
    await client.create(secret("later", {"other": SECRET_VALUE}))
    waiting = await eventually(lambda: _message_is(node, "couldn't find key pw in Secret volumes-test/later"))
    later = await client.get("Secret", "later", NS)
    later["data"]["pw"] = base64.b64encode(b"now").decode()
    await client.update(later)
    env = await eventually(lambda: env_of(node, "needs"))
    assert env["PW"] == "now"
    out, err = capfd.readouterr()
    assert SECRET_VALUE not in out + err


async def _message_is(node, message: str) -> bool:
    w = await node.waiting("needs")
    return bool(w) and w["message"] == message


async def test_missing_configmap_volume_waits_then_mounts(node, client):
    """A configMap volume of a ConfigMap not there yet keeps the pod in ContainerCreating
    (the kubelet's FailedMount words); once it exists the pod starts with the files."""
    await client.create(volume_pod("vol-later", node.name, [{
        "name": "app", "command": ["sleep", "600"],
        "volumeMounts": [{"name": "conf", "mountPath": "/conf"}],
    }], [{"name": "conf", "configMap": {"name": "soon", "items": [{"key": "k", "path": "sub/file"}]}}]))
    waiting = await eventually(lambda: node.waiting("vol-later"))
    assert waiting == {"reason": "ContainerCreating",
                       "message": 'MountVolume.SetUp failed for volume "conf" : configmap "soon" not found'}
    await client.create(configmap("soon", {"k": "v"}))
    code, out = await node.run("vol-later", "app", "cat", "/conf/sub/file")
    assert (code, out) == (0, "v")
