"""Windows build compatibility and kernel versions: one row per rule in docs/WINDOWS-COMPAT.md."""

from __future__ import annotations

import pytest

from mixfleet.api.versions import (
    InvalidVersionError,
    WindowsVersion,
    kernel_at_least,
    parse_kernel_version,
)
from mixfleet.scheduler.versions import (
    hyperv_compatible,
    process_floor,
    process_isolation_compatible,
)

V = WindowsVersion.parse


@pytest.mark.parametrize(
    ("text", "build", "revision"),
    [
        pytest.param("10.0.20348.2655", 20348, 2655, id="four-parts"),
        pytest.param("10.0.17763", 17763, None, id="three-parts-no-revision"),
        pytest.param("26100", 26100, None, id="bare-build"),
        pytest.param(" 10.0.14393.3930 ", 14393, 3930, id="whitespace"),
    ],
)
def test_parse_windows_version(text: str, build: int, revision: int | None) -> None:
    """A Windows version string yields its build and revision."""
    v = V(text)
    assert (v.build, v.revision) == (build, revision)


@pytest.mark.parametrize("text", [pytest.param("ltsc2022", id="tag"), pytest.param("10.0", id="two-parts"), pytest.param("1.2.3.4.5", id="five-parts")])
def test_parse_windows_version_rejects(text: str) -> None:
    """Strings that are not versions raise InvalidVersionError naming the text."""
    with pytest.raises(InvalidVersionError, match="invalid Windows version"):
        V(text)


@pytest.mark.parametrize(
    ("host", "image", "client", "ok"),
    [
        # Windows Server 2016: the revision matters.
        pytest.param("10.0.14393.3930", "10.0.14393.3930", False, True, id="2016-same-revision"),
        pytest.param("10.0.14393.3930", "10.0.14393.2273", False, False, id="2016-revision-mismatch"),
        pytest.param("10.0.14393.3930", "10.0.14393", False, True, id="2016-image-revision-unknown"),
        pytest.param("10.0.14393", "10.0.14393.2273", False, True, id="2016-host-revision-unknown"),
        # 1709 / 1803: exact build, revision ignored (we take the "cut at 1709" reading).
        pytest.param("10.0.16299.1000", "10.0.16299.15", False, True, id="1709-revision-ignored"),
        pytest.param("10.0.17134.1000", "10.0.17134.1", False, True, id="1803-revision-ignored"),
        pytest.param("10.0.17134.1000", "10.0.16299.15", False, False, id="1803-host-1709-image"),
        # 2019.
        pytest.param("10.0.17763.5000", "10.0.17763.100", False, True, id="2019-revision-ignored"),
        pytest.param("10.0.17763.5000", "10.0.14393.100", False, False, id="2019-host-2016-image"),
        pytest.param("10.0.17763.5000", "10.0.20348.100", False, False, id="2019-host-newer-2022-image"),
        # 1903 / 1909, 2004 / 20H2: each its own build.
        pytest.param("10.0.18362.1", "10.0.18362.2", False, True, id="1903-exact"),
        pytest.param("10.0.18363.1", "10.0.18362.1", False, False, id="1909-host-1903-image"),
        pytest.param("10.0.19041.1", "10.0.19041.9", False, True, id="2004-exact"),
        pytest.param("10.0.19042.1", "10.0.19041.1", False, False, id="20H2-host-2004-image"),
        # 2022: only 2022 images (floor 20348, nothing older).
        pytest.param("10.0.20348.2655", "10.0.20348.100", False, True, id="2022-exact"),
        pytest.param("10.0.20348.2655", "10.0.17763.100", False, False, id="2022-host-2019-image"),
        pytest.param("10.0.20348.2655", "10.0.26100.1", False, False, id="2022-host-newer-2025-image"),
        # Windows 11 client builds: floor 20348 up to the host build.
        pytest.param("10.0.22000.1", "10.0.20348.1", True, True, id="client-22000-2022-image"),
        pytest.param("10.0.22621.1", "10.0.20348.1", True, True, id="client-22621-2022-image"),
        pytest.param("10.0.22631.1", "10.0.22631.1", True, True, id="client-22631-exact"),
        pytest.param("10.0.22621.1", "10.0.22631.1", True, False, id="client-22621-newer-image"),
        pytest.param("10.0.22621.1", "10.0.17763.1", True, False, id="client-22621-2019-image"),
        # 23H2 (Annual Channel).
        pytest.param("10.0.25398.1", "10.0.20348.1", False, True, id="23H2-host-2022-image"),
        pytest.param("10.0.25398.1", "10.0.25398.1", False, True, id="23H2-exact"),
        pytest.param("10.0.25398.1", "10.0.17763.1", False, False, id="23H2-host-2019-image"),
        # 2025: 20348..26100.
        pytest.param("10.0.26100.1", "10.0.26100.1", False, True, id="2025-exact"),
        pytest.param("10.0.26100.1", "10.0.20348.1", False, True, id="2025-host-2022-image"),
        pytest.param("10.0.26100.1", "10.0.25398.1", False, True, id="2025-host-23H2-image"),
        pytest.param("10.0.26100.1", "10.0.17763.1", False, False, id="2025-host-2019-image"),
        # A future host after 2025: floor is 26100.
        pytest.param("10.0.27000.1", "10.0.20348.1", False, False, id="future-host-2022-image"),
        pytest.param("10.0.27000.1", "10.0.26100.1", False, True, id="future-host-2025-image"),
        # Windows 10 client hosts: nothing before 17763, matching builds after.
        pytest.param("10.0.17134.1", "10.0.17134.1", True, False, id="client-1803-before-17763"),
        pytest.param("10.0.14393.1", "10.0.14393.1", True, False, id="client-1607-before-17763"),
        pytest.param("10.0.17763.1", "10.0.17763.1", True, True, id="client-1809-exact"),
        pytest.param("10.0.19041.1", "10.0.19041.1", True, True, id="client-2004-exact"),
        pytest.param("10.0.19041.1", "10.0.17763.1", True, False, id="client-2004-2019-image"),
    ],
)
def test_process_isolation(host: str, image: str, client: bool, ok: bool) -> None:
    """Process isolation follows the host/image build rule (containerd's), per edition."""
    assert process_isolation_compatible(V(host), V(image), client=client) is ok


@pytest.mark.parametrize(
    ("host", "floor"),
    [
        pytest.param(20348, 20348, id="2022"),
        pytest.param(22621, 20348, id="client-22621"),
        pytest.param(26100, 20348, id="2025"),
        pytest.param(27000, 26100, id="after-2025"),
    ],
)
def test_process_floor(host: int, floor: int) -> None:
    """The floor is the newest LTSC strictly older than the host, else 20348."""
    assert process_floor(host) == floor


@pytest.mark.parametrize(
    ("host", "image", "ok"),
    [
        pytest.param("10.0.20348.1", "10.0.17763.1", True, id="older-image"),
        pytest.param("10.0.26100.1", "10.0.14393.1", True, id="2016-image-on-2025"),
        pytest.param("10.0.20348.1", "10.0.20348.9", True, id="same-build"),
        pytest.param("10.0.14393.3930", "10.0.14393.2273", True, id="2016-revision-ignored"),
        pytest.param("10.0.17763.1", "10.0.20348.1", False, id="newer-image"),
        pytest.param("10.0.22621.1", "10.0.26100.1", False, id="client-newer-image"),
    ],
)
def test_hyperv(host: str, image: str, ok: bool) -> None:
    """Hyper-V runs any image build up to the host's, never a newer one."""
    assert hyperv_compatible(V(host), V(image)) is ok


@pytest.mark.parametrize(
    ("kernel", "minimum", "ok"),
    [
        pytest.param("6.1.0-18-amd64", "5.10", True, id="debian-6.1"),
        pytest.param("5.4.0-150-generic", "5.10", False, id="numeric-not-lexical"),
        pytest.param("5.10.0-28-amd64", "5.10", True, id="equal-padded"),
        pytest.param("5.10", "5.10.1", False, id="patch-newer"),
        pytest.param("6.8.0", ">= 6.1", True, id="constraint-syntax"),
    ],
)
def test_kernel_at_least(kernel: str, minimum: str, ok: bool) -> None:
    """Kernel versions compare numerically on the dotted prefix of `uname -r`."""
    assert kernel_at_least(parse_kernel_version(kernel), parse_kernel_version(minimum)) is ok


def test_kernel_parse_rejects_garbage() -> None:
    """A kernel version without digits is an error, not a silent pass."""
    with pytest.raises(InvalidVersionError):
        parse_kernel_version("unknown")


@pytest.mark.parametrize(
    "image, build",
    [
        pytest.param("mcr.microsoft.com/windows/servercore:ltsc2019", 17763, id="servercore-ltsc2019"),
        pytest.param("mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022", 20348, id="iis-ltsc2022"),
        pytest.param("mcr.microsoft.com/dotnet/framework/aspnet:4.8-20240910-windowsservercore-ltsc2025", 26100, id="aspnet-dated-ltsc2025"),
        pytest.param("mcr.microsoft.com/windows/nanoserver:1809", 17763, id="sac-1809"),
        pytest.param("mcr.microsoft.com/windows/servercore:20H2", 19042, id="20h2"),
        pytest.param("example/app:10.0.20348.2655", 20348, id="full-version-tag"),
        pytest.param("example/app:latest", None, id="no-family"),
        pytest.param("registry.local:5000/app", None, id="port-not-tag"),
    ],
)
def test_build_from_image_tag(image: str, build: int | None) -> None:
    """Microsoft's tag families name the build an image was made for."""
    from mixfleet.api.versions import build_from_image_tag

    v = build_from_image_tag(image)
    assert (v.build if v else None) == build
