"""Host facts from recorded Windows inputs and the real Linux host, and the Node object."""

from __future__ import annotations

import os

import pytest

from mixfleet.nodeagent.facts import (
    detect_host,
    facts_from_engine,
    node_object,
    parse_docker_image,
    parse_docker_info,
)
from mixfleet.nodeagent.facts.linux import linux_facts
from mixfleet.nodeagent.facts.windows import parse_hyperv_probe, windows_facts
from tests.nodeagent import recorded as rec

_GI = 1 << 30


def _windows(host: dict, *, hyperv: bool = True):
    return windows_facts(
        winver=host["winver"],
        registry=host["registry"],
        hyperv=hyperv,
        cpu=8,
        memory_bytes=32 * _GI,
        hostname="WIN-A",
        machine="AMD64",
    )


@pytest.mark.parametrize(
    "host, os_version, build, edition, os_image",
    [
        pytest.param(
            rec.SERVER_2019_CORE,
            "10.0.17763.6189",
            17763,
            "server",
            "Windows Server 2019 Datacenter",
            id="server-2019-core",
        ),
        pytest.param(
            rec.SERVER_2022,
            "10.0.20348.2655",
            20348,
            "server",
            "Windows Server 2022 Datacenter",
            id="server-2022",
        ),
        pytest.param(
            rec.SERVER_2025,
            "10.0.26100.2314",
            26100,
            "server",
            "Windows Server 2025 Datacenter",
            id="server-2025",
        ),
        pytest.param(
            rec.WINDOWS_11,
            "10.0.22631.4460",
            22631,
            "client",
            "Windows 11 Pro",
            id="windows-11-client",
        ),
    ],
)
def test_windows_facts_from_recorded_inputs(host, os_version, build, edition, os_image):
    """Registry and getwindowsversion inputs give version with UBR revision, edition, product."""
    facts = _windows(host)
    assert (facts.os_version, facts.os_build, facts.windows_edition, facts.os_image) == (
        os_version,
        build,
        edition,
        os_image,
    )
    assert (facts.os, facts.arch, facts.hostname) == ("windows", "amd64", "win-a")


@pytest.mark.parametrize(
    "host, os_version, isolation",
    [
        pytest.param(rec.SERVER_2019_CORE, "10.0.17763.6189", "process", id="server-2019"),
        pytest.param(rec.SERVER_2022, "10.0.20348.2655", "process", id="server-2022"),
        pytest.param(rec.SERVER_2025, "10.0.26100.2314", "process", id="server-2025"),
        pytest.param(rec.WINDOWS_11, "10.0.22631.4460", "hyperv", id="windows-11"),
    ],
)
def test_docker_info_from_windows_hosts(host, os_version, isolation):
    """Docker /info on Windows yields the full version (revision from OperatingSystem)."""
    info = parse_docker_info(host["docker_info"])
    assert (info.os_type, info.architecture, info.os_version, info.default_isolation) == (
        "windows",
        "amd64",
        os_version,
        isolation,
    )
    facts = facts_from_engine(info)
    assert facts.os_version == os_version
    assert facts.os_image == _windows(host).os_image


def test_node_object_for_windows_server_2022():
    """The Node has the documented labels, taint, capacity, nodeInfo, platform and images."""
    info = parse_docker_info(rec.SERVER_2022["docker_info"])
    image = parse_docker_image(rec.WINDOWS_IMAGE_INSPECT)
    node = node_object(
        _windows(rec.SERVER_2022),
        name="win-20348-a",
        engine_info=info,
        images=[image],
        daemon_endpoint="127.0.0.1:10250",
    )
    assert node["metadata"]["labels"] == {
        "kubernetes.io/os": "windows",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "win-20348-a",
        "node.kubernetes.io/windows-build": "10.0.20348",
    }
    assert node["spec"]["taints"] == [{"key": "os", "value": "windows", "effect": "NoSchedule"}]
    status = node["status"]
    assert status["capacity"] == {"cpu": "8", "memory": "32Gi", "pods": "110"}
    assert status["allocatable"] == {"cpu": "8", "memory": "31Gi", "pods": "110"}
    assert status["nodeInfo"] == {
        "operatingSystem": "windows",
        "architecture": "amd64",
        "kernelVersion": "10.0.20348.2655",
        "osImage": "Windows Server 2022 Datacenter",
        "containerRuntimeVersion": "docker://24.0.7",
    }
    assert status["platform"] == {
        "osVersion": "10.0.20348.2655",
        "osBuild": 20348,
        "windowsEdition": "server",
        "isolationModes": ["process", "hyperv"],
        "defaultIsolation": "process",
        "lcow": False,
        "hypervOverhead": {"cpu": "100m", "memory": "512Mi"},
        "simulated": False,
    }
    assert status["images"] == [
        {
            "names": ["mcr.microsoft.com/windows/servercore:ltsc2022"],
            "os": "windows",
            "architecture": "amd64",
            "osVersion": "10.0.20348.2655",
            "sizeBytes": 5368709120,
        }
    ]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "EngineReady": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
    }
    assert status["daemonEndpoint"] == "127.0.0.1:10250"


def test_windows_without_hyperv_offers_process_only():
    """A host without the Hyper-V role advertises process isolation only."""
    node = node_object(_windows(rec.SERVER_2019_CORE, hyperv=False), name="w", engine_info=None)
    assert node["status"]["platform"]["isolationModes"] == ["process"]
    assert "hypervOverhead" not in node["status"]["platform"]


@pytest.mark.parametrize(
    "output, expected",
    [
        pytest.param('{"present":true,"feature":1}', True, id="role-installed-and-running"),
        pytest.param('{"present":true,"feature":2}', False, id="guest-vm-without-role"),
        pytest.param('{"present":false,"feature":1}', False, id="role-but-no-hypervisor"),
        pytest.param("", False, id="probe-failed"),
    ],
)
def test_hyperv_probe(output, expected):
    """Hyper-V counts only when the feature is installed and a hypervisor runs."""
    assert parse_hyperv_probe(output) is expected


def test_linux_facts_from_recorded_inputs():
    """meminfo, os-release and uname parse into the Linux facts."""
    facts = linux_facts(
        release="6.1.0-18-amd64",
        machine="aarch64",
        hostname="Lin-A",
        cpu=4,
        meminfo=rec.MEMINFO,
        os_release=rec.OS_RELEASE,
    )
    assert (facts.arch, facts.memory_bytes, facts.os_image, facts.hostname) == (
        "arm64",
        8145544 * 1024,
        "Debian GNU/Linux 12 (bookworm)",
        "lin-a",
    )
    node = node_object(facts, name="lin-a", engine_info=parse_docker_info(rec.LINUX_DOCKER_INFO))
    assert node["spec"]["taints"] == []
    assert "node.kubernetes.io/windows-build" not in node["metadata"]["labels"]
    assert node["status"]["platform"] == {"kernelVersion": "6.1.0-18-amd64", "simulated": False}


def test_detect_host_on_this_linux_machine():
    """detect_host() reports this machine's kernel, arch and resources."""
    facts = detect_host()
    assert facts.os == "linux"
    assert facts.kernel_version == os.uname().release
    assert facts.arch in ("amd64", "arm64")
    assert facts.cpu >= 1 and facts.memory_bytes > 256 << 20
