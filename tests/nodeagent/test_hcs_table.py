"""The scheduler's compatibility rule and the simulated engine's HCS table agree, cell by cell.

The scheduler places pods by a formula (mixfleet.scheduler.versions, after containerd's
platform matcher); simulated engines refuse starts by Microsoft's matrix written out as data
(mixfleet.nodeagent.engines.hcs_matrix). The two were written from different sources, so
where they agree the end-to-end tests mean something, and where they do not this test says so.
The known disagreements are marked xfail(strict) with what the sources say
(docs/WINDOWS-COMPAT.md, "Where the scheduler and the HCS table disagree"): if either side
changes, the mark must go.
"""

from __future__ import annotations

import pytest

from mixfleet.api.versions import WindowsVersion
from mixfleet.nodeagent.engines import hcs_matrix
from mixfleet.scheduler.versions import hyperv_compatible, process_isolation_compatible

# Every build the table has a row for, and two newer than all of them: 26200 (Windows 11
# 25H2) and 27000 (a build after Windows Server 2025 that nobody has named yet).
NEWER = (26200, 27000)
BUILDS = (*hcs_matrix.COLUMNS, *NEWER)
REV, OTHER_REV = 1000, 7
HOSTS = (*(WindowsVersion(10, 0, b, REV) for b in BUILDS), WindowsVersion(10, 0, 14393))
IMAGES = (
    *(WindowsVersion(10, 0, b, r) for b in BUILDS for r in (REV, OTHER_REV)),
    WindowsVersion(10, 0, 14393),  # a 2016 image whose manifest names no revision
)
ISOLATIONS = ("process", "hyperv")
EDITIONS = ("server", "client")

# Image builds no base image is published for (Windows 11 client builds, the 23H2 Annual
# Channel, a build between LTSCs), which the scheduler's range rule still admits on a newer
# host by process isolation. Microsoft's matrix lists only the LTSC images for these hosts.
_RANGE_ONLY: dict[int, tuple[int, ...]] = {
    22621: (22000,),
    22631: (22000, 22621),
    25398: (22000, 22621, 22631),
    26100: (22000, 22621, 22631, 25398),
    27000: (26200,),
}
_RANGE_ONLY_REASON = (
    "no base image of build {image} exists; the scheduler's floor..host range (containerd "
    "checkWindowsHostAndContainerCompat, hcsshim CheckHostAndContainerCompat) admits it on "
    "{host}, Microsoft's matrix lists only the LTSC images there (portability page: a 23H2 "
    "host 'only supports the Windows Server 2022 LTSC container image')"
)
# Windows client hosts newer than 26100 with a Windows Server 2022 image: Microsoft's
# "Windows 11" tab lists WS2022 images for process isolation with no closing build; the
# scheduler's floor for a host above 26100 is 26100.
_WIN11_TAB: dict[int, tuple[int, ...]] = {26200: (20348,), 27000: (20348,)}
_WIN11_TAB_REASON = (
    "Windows 11 tab of Microsoft's matrix: Windows Server 2022 images run process-isolated on "
    "Windows 11 (no closing build; 25H2 is 24H2's servicing branch); the scheduler floors a "
    "host above 26100 at 26100, as containerd's matcher does"
)


def _known_disagreement(host: WindowsVersion, image: WindowsVersion, isolation: str, edition: str) -> str | None:
    if isolation != "process":
        return None
    if image.build in _RANGE_ONLY.get(host.build, ()):
        return _RANGE_ONLY_REASON.format(image=image.build, host=host.build)
    if edition == "client" and image.build in _WIN11_TAB.get(host.build, ()):
        return _WIN11_TAB_REASON
    return None


def _cells() -> list:
    cells = []
    for host in HOSTS:
        for image in IMAGES:
            for isolation in ISOLATIONS:
                for edition in EDITIONS:
                    reason = _known_disagreement(host, image, isolation, edition)
                    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                    cells.append(
                        pytest.param(
                            host,
                            image,
                            isolation,
                            edition,
                            marks=marks,
                            id=f"{isolation}-{edition}-host{host}-image{image}",
                        )
                    )
    return cells


def _scheduler(host: WindowsVersion, image: WindowsVersion, isolation: str, client: bool) -> bool:
    if isolation == "process":
        return process_isolation_compatible(host, image, client=client)
    return hyperv_compatible(host, image)


def _say(runs: bool) -> str:
    return "runs" if runs else "refused"


def test_grid_size() -> None:
    """The grid covers every row, two newer builds, the 2016 revision cases and both editions."""
    assert (len(HOSTS), len(IMAGES)) == (17, 33)
    assert len(_cells()) == 17 * 33 * 2 * 2 == 2244


@pytest.mark.parametrize(("host", "image", "isolation", "edition"), _cells())
def test_scheduler_rule_agrees_with_hcs_table(
    host: WindowsVersion, image: WindowsVersion, isolation: str, edition: str
) -> None:
    """Where the scheduler places, HCS starts; where HCS refuses, the scheduler does not place."""
    client = edition == "client"
    scheduler = _scheduler(host, image, isolation, client)
    hcs = hcs_matrix.starts(host, image, isolation, client=client)
    assert scheduler == hcs, (
        f"host {host} ({edition}), image {image}, {isolation} isolation: "
        f"scheduler says {_say(scheduler)}, HCS table says {_say(hcs)}"
    )


# The table on its own: facts from the sources that do not depend on the scheduler.
V = WindowsVersion.parse


@pytest.mark.parametrize(
    ("host", "image", "isolation", "client", "runs"),
    [
        pytest.param("10.0.14393.3930", "10.0.14393.3930", "process", False, True, id="2016-same-revision"),
        pytest.param("10.0.14393.3930", "10.0.14393.2273", "process", False, False, id="2016-revision-mismatch"),
        pytest.param("10.0.14393.3930", "10.0.14393.2273", "hyperv", False, True, id="2016-revision-hyperv"),
        pytest.param("10.0.16299.1000", "10.0.16299.15", "process", False, True, id="1709-revision-free"),
        pytest.param("10.0.17134.1", "10.0.14393.1", "hyperv", False, True, id="1803-runs-2016-in-vm"),
        pytest.param("10.0.17763.1", "10.0.20348.1", "hyperv", False, False, id="2019-no-newer-in-vm"),
        pytest.param("10.0.20348.1", "10.0.17763.1", "process", False, False, id="2022-no-2019-process"),
        pytest.param("10.0.22621.1", "10.0.20348.1", "process", True, True, id="win11-runs-2022"),
        pytest.param("10.0.22621.1", "10.0.26100.1", "process", True, False, id="win11-22h2-no-2025"),
        pytest.param("10.0.25398.1", "10.0.20348.1", "process", False, True, id="23h2-runs-2022"),
        pytest.param("10.0.26100.1", "10.0.20348.1", "process", True, True, id="win11-24h2-runs-2022"),
        pytest.param("10.0.26100.1", "10.0.17763.1", "process", False, False, id="2025-no-2019-process"),
        pytest.param("10.0.27000.1", "10.0.26100.1", "process", False, True, id="newer-runs-2025"),
        pytest.param("10.0.27000.1", "10.0.20348.1", "process", False, False, id="newer-server-no-2022"),
        pytest.param("10.0.17134.1", "10.0.17134.1", "process", True, False, id="client-1803-no-process"),
        pytest.param("10.0.17763.1", "10.0.17763.1", "process", True, True, id="client-1809-process"),
        pytest.param("10.0.19043.1", "10.0.19043.1", "process", True, True, id="unlisted-own-build"),
    ],
)
def test_hcs_table_cells(host: str, image: str, isolation: str, client: bool, runs: bool) -> None:
    """Cells read straight off Microsoft's matrix, the 2016 revision rule and Docker's client rule."""
    assert hcs_matrix.starts(V(host), V(image), isolation, client=client) is runs


def test_every_row_runs_its_own_build_and_nothing_newer() -> None:
    """The matrix's diagonal, and no newer image in a utility VM, on every row."""
    for build, row in hcs_matrix.ROWS.items():
        assert build in row.process and build in row.hyperv, row.release
        assert row.process <= row.hyperv, row.release
        assert all(b <= build for b in row.hyperv), row.release


def test_bad_row_is_refused() -> None:
    """A mistyped row fails at import, not as a silent refusal."""
    with pytest.raises(ValueError, match="HCS matrix row 1"):
        hcs_matrix._row(1, "broken", "PH .")
