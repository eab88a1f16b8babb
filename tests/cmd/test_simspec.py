"""--simulate specs become the simulated nodes a user asked for, or a clear error."""

from __future__ import annotations

import pytest

from mixfleet.cmd.simspec import SimSpecError, parse, parse_all


@pytest.mark.parametrize(
    "spec, name, os_, version, hyperv, cpu, memory",
    [
        pytest.param("windows/20348", "sim-windows-20348-1", "windows", "10.0.20348.1", False, "8", "32Gi", id="win-build"),
        pytest.param("windows/17763+hyperv", "sim-windows-17763-hv-1", "windows", "10.0.17763.1", True, "8", "32Gi", id="win-hyperv"),
        pytest.param("windows/10.0.26100.1742+hyperv:cpu=16,memory=64Gi", "sim-windows-26100-hv-1", "windows", "10.0.26100.1742", True, "16", "64Gi", id="win-full-version-opts"),
        pytest.param("linux/6.1.0-18-amd64", "sim-linux-6.1.0-1", "linux", "6.1.0-18-amd64", False, "8", "32Gi", id="linux-kernel"),
        pytest.param("linux", "sim-linux-6.1.0-1", "linux", "6.1.0-18-amd64", False, "8", "32Gi", id="linux-default"),
    ],
)
def test_parse_one(spec, name, os_, version, hyperv, cpu, memory) -> None:
    """Each spec yields a node with the OS, version, Hyper-V role and size asked for."""
    (node,) = parse(spec)
    assert (node.name, node.os, node.version, node.hyperv, node.cpu, node.memory) == (
        name, os_, version, hyperv, cpu, memory)


def test_count_and_unique_names() -> None:
    """xCOUNT makes that many nodes, and names stay unique across specs."""
    nodes = parse_all(["linux/5.15x2", "linux/5.15", "windows/22631:edition=client"])
    assert [n.name for n in nodes] == ["sim-linux-5.15-1", "sim-linux-5.15-2", "sim-linux-5.15-3", "sim-windows-22631-1"]
    assert nodes[-1].edition == "client" and nodes[-1].windows_build == 22631


@pytest.mark.parametrize(
    "spec, message",
    [
        pytest.param("macos/14", 'expected OS[/VERSION][+hyperv][xCOUNT]', id="unknown-os"),
        pytest.param("windows/abc", 'expected OS[/VERSION]', id="bad-version-chars"),
        pytest.param("windows/123", 'Windows version "123"', id="short-build"),
        pytest.param("windows/20348:gpu=1", 'unknown option "gpu=1"', id="unknown-option"),
        pytest.param("linux:memory=lots", "memory: ", id="bad-quantity"),
        pytest.param("windows/20348:edition=home", "edition must be server or client", id="bad-edition"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    """A malformed spec is refused with a message naming what is wrong."""
    with pytest.raises(SimSpecError, match=None) as exc:
        parse(spec)
    assert message in str(exc.value)
