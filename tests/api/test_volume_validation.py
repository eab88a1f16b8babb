"""Volumes and mounts are checked at apply, each problem naming its field: undefined
volumes, duplicate mount paths, a path of the other OS's form, unsafe subPaths, media and
types Mixfleet does not honour."""

from __future__ import annotations

from typing import Any

import pytest

from mixfleet.api.validation import validate


def _pod(volumes: list[dict], mounts: list[dict], *, os_name: str = "linux") -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"os": {"name": os_name}, "volumes": volumes,
                 "containers": [{"name": "c", "image": "busybox", "volumeMounts": mounts}]},
    }


EMPTY = {"name": "v", "emptyDir": {}}


@pytest.mark.parametrize(
    "pod, error",
    [
        pytest.param(_pod([EMPTY], [{"name": "w", "mountPath": "/data"}]),
                     'spec.containers[0].volumeMounts[0].name: volume "w" not found in spec.volumes',
                     id="undefined-volume"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "/data"}, {"name": "v", "mountPath": "/data/"}]),
                     'spec.containers[0].volumeMounts[1].mountPath: "/data/": must be unique',
                     id="duplicate-mount-path"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "C:\\data"}, {"name": "v", "mountPath": "c:/DATA"}],
                          os_name="windows"),
                     'spec.containers[0].volumeMounts[1].mountPath: "c:/DATA": must be unique',
                     id="duplicate-windows-path-any-case"),
        pytest.param(_pod([EMPTY, dict(EMPTY)], []), 'spec.volumes[1].name: duplicate value "v"',
                     id="duplicate-volume"),
        pytest.param(_pod([{"name": "v"}], []), "spec.volumes[0]: must specify a volume type",
                     id="no-type"),
        pytest.param(_pod([{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}], []),
                     "spec.volumes[0].hostPath: may not specify more than 1 volume type", id="two-types"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "C:\\data"}]),
                     'spec.containers[0].volumeMounts[0].mountPath: "C:\\data" is a Windows path, but '
                     "this pod's OS is linux: use a Linux path such as /data", id="windows-path-linux-pod"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "/data"}], os_name="windows"),
                     'spec.containers[0].volumeMounts[0].mountPath: "/data" is a Linux path, but this '
                     "pod's OS is windows: use a Windows path such as C:\\data", id="linux-path-windows-pod"),
        pytest.param(_pod([{"name": "v", "hostPath": {"path": "/var/log"}}], [], os_name="windows"),
                     'spec.volumes[0].hostPath.path: "/var/log" is a Linux path, but this pod\'s OS is '
                     "windows: use a Windows path such as C:\\data", id="linux-host-path-windows-pod"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "data"}]),
                     'spec.containers[0].volumeMounts[0].mountPath: "data" must be an absolute path '
                     "such as /data", id="relative-mount-path"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "/d", "subPath": "a/../../etc"}]),
                     "spec.containers[0].volumeMounts[0].subPath: \"a/../../etc\": must not contain '..'",
                     id="sub-path-escapes"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "/d", "subPath": "/etc"}]),
                     'spec.containers[0].volumeMounts[0].subPath: "/etc": must be a relative path',
                     id="sub-path-absolute"),
        pytest.param(_pod([{"name": "v", "emptyDir": {"medium": "Memory"}}], [], os_name="windows"),
                     "spec.volumes[0].emptyDir.medium: Memory (a tmpfs) is Linux only, and this pod's "
                     "OS is windows", id="memory-medium-windows"),
        pytest.param(_pod([{"name": "v", "emptyDir": {"medium": "HugePages"}}], []),
                     'spec.volumes[0].emptyDir.medium: unsupported value "HugePages": supported values: '
                     '"", "Memory"', id="hugepages"),
        pytest.param(_pod([{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}], []),
                     "spec.volumes[0].emptyDir.sizeLimit: only honoured with medium: Memory (the "
                     "tmpfs's size); Mixfleet does not measure disk-backed emptyDir volumes",
                     id="disk-size-limit"),
        pytest.param(_pod([{"name": "v", "hostPath": {"path": "/x", "type": "Pipe"}}], []),
                     'spec.volumes[0].hostPath.type: unsupported value "Pipe": supported values: "", '
                     '"DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", '
                     '"BlockDevice"', id="host-path-type"),
        pytest.param(_pod([{"name": "v", "hostPath": {"path": "C:\\x", "type": "Socket"}}], [],
                          os_name="windows"),
                     "spec.volumes[0].hostPath.type: Socket is Linux only, and this pod's OS is windows",
                     id="socket-windows"),
        pytest.param(_pod([{"name": "v", "nfs": {"server": "s", "path": "/"}}], []),
                     "spec.volumes[0].nfs: not supported by Mixfleet", id="unsupported-type"),
        pytest.param(_pod([EMPTY], [{"name": "v", "mountPath": "/d", "mountPropagation": "Bidirectional"}]),
                     "spec.containers[0].volumeMounts[0].mountPropagation: not supported by Mixfleet",
                     id="mount-propagation"),
    ],
)
def test_refused_with_the_field_named(pod: dict[str, Any], error: str) -> None:
    """Each bad volume or mount is one error naming the field."""
    errors = [str(e) for e in validate(pod)]
    assert any(e.startswith(error) for e in errors), errors


def test_good_volumes_pass() -> None:
    """Volumes of each form the pod's OS takes are accepted."""
    linux = _pod([EMPTY, {"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                  {"name": "h", "hostPath": {"path": "/var/log", "type": "Directory"}}],
                 [{"name": "v", "mountPath": "/v"}, {"name": "m", "mountPath": "/m"},
                  {"name": "h", "mountPath": "/h", "readOnly": True, "subPath": "app"}])
    windows = _pod([EMPTY, {"name": "h", "hostPath": {"path": "C:\\logs"}}],
                   [{"name": "v", "mountPath": "C:\\v"}, {"name": "h", "mountPath": "c:/h"}],
                   os_name="windows")
    assert validate(linux) == [] and validate(windows) == []
