"""What HCS (the Windows Host Compute Service) starts, as data: Microsoft's Windows container
version-compatibility matrix, one row per host build, for the simulated engine's refusals.

This is deliberately NOT the scheduler's rule (:mod:`mixfleet.scheduler.versions`, a formula
after containerd's platform matcher) and must never import it: the end-to-end tests place pods
with the scheduler's rule and run them on simulated engines that refuse by this table, so a
wrong rule shows up as a refused start instead of agreeing with itself.
``tests/nodeagent/test_hcs_table.py`` compares the two cell by cell. docs/WINDOWS-COMPAT.md
tells which sources say what, and where they disagree.

Sources (cited by key in the rows):

[M18] Microsoft, "Windows container version compatibility" (learn.microsoft.com/virtualization/
      windowscontainers/deploy-containers/version-compatibility), the page as of 2018-11-14
      (MicrosoftDocs/Virtualization-Documentation 4412583b): the table with 1709/1803/2019 hosts.
[M21] The same page as of 2021-10-21 (ea333378): one tab per host, 2016 through 2022,
      semi-annual releases 1903/1909/2004/20H2 included.
[M25] The same page as of 2025-09-17 (b9fb379f): tabs Windows Server 2025/2022/2019/2016,
      Windows 11 (footnote: Windows Server 2025 images from Windows 11 24H2), Windows 10; and
      "Older containers will run the same on newer hosts with Hyper-V isolation ... a container
      based on a newer Windows build ... can only run on the newer host build" (every version
      of the page says this).
[P23] Microsoft, "Portability for containers" (deploy-containers/portability): "A Windows
      Server, version 23H2 container host only supports the Windows Server 2022 LTSC container
      image."
[LTSC] hcsshim osversion.CheckHostAndContainerCompat's statement of policy: "Every release
      after WS 2022 will support the previous ltsc container image".
[C18] moby/moby#38000 (Docker 18.09, by Microsoft): Windows client editions may run process
      isolation from build 17763 (RS5) on, for development and test; earlier client builds
      are refused ("Windows client operating systems earlier than version 1809 can only run
      Hyper-V containers"). Microsoft's hyperv-container page and FAQ say the same ("Starting
      with the Windows 10 October 2018 update ...", host and image builds must match).

Marks in a row, one per image build column: ``PH`` starts with process or Hyper-V isolation,
``H`` only in a Hyper-V utility VM, ``.`` not at all. The matrix lists the images Microsoft
publishes; each host's own build is on the diagonal of every tab, and for the client builds
and 23H2, which have no base images, the diagonal is kept as the only own-build reading. A
Hyper-V mark for an older image the page does not list (1709/1803 images on 1903 and later
hosts, or the unpublished builds) is [M25]'s general sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixfleet.api.versions import WindowsVersion

# The matrix's image columns: every build Microsoft named a release for.
COLUMNS: tuple[int, ...] = (
    14393,  # Windows Server 2016, ltsc2016
    16299,  # Windows Server 1709
    17134,  # Windows Server 1803
    17763,  # Windows Server 2019, ltsc2019 / Windows 10 1809
    18362,  # Windows Server 1903
    18363,  # Windows Server 1909
    19041,  # Windows Server 2004
    19042,  # Windows Server 20H2
    20348,  # Windows Server 2022, ltsc2022
    22000,  # Windows 11 21H2 (client only: no base image)
    22621,  # Windows 11 22H2 (client only: no base image)
    22631,  # Windows 11 23H2 (client only: no base image)
    25398,  # Windows Server 23H2, Annual Channel (no base image of its own)
    26100,  # Windows Server 2025, ltsc2025 / Windows 11 24H2
)

# fmt: off
_MATRIX: dict[int, tuple[str, str]] = {
    # host  release                 14393 16299 17134 17763 18362 18363 19041 19042 20348 22000 22621 22631 25398 26100
    # [M18] column "Windows Server 2016"; [M25] tab "Windows Server 2016".
    14393: ("Windows Server 2016", "PH    .     .     .     .     .     .     .     .     .     .     .     .     ."),
    # [M18] column "Windows Server version 1709".
    16299: ("Windows Server 1709", "H     PH    .     .     .     .     .     .     .     .     .     .     .     ."),
    # [M18] column "Windows Server version 1803".
    17134: ("Windows Server 1803", "H     H     PH    .     .     .     .     .     .     .     .     .     .     ."),
    # [M18] column "Windows Server 2019"; [M21] and [M25] tab "Windows Server 2019".
    17763: ("Windows Server 2019", "H     H     H     PH    .     .     .     .     .     .     .     .     .     ."),
    # [M21] tab "Windows Server, version 1903" (1709/1803 images: [M25]'s Hyper-V sentence).
    18362: ("Windows Server 1903", "H     H     H     H     PH    .     .     .     .     .     .     .     .     ."),
    # [M21] tab "Windows Server, version 1909".
    18363: ("Windows Server 1909", "H     H     H     H     H     PH    .     .     .     .     .     .     .     ."),
    # [M21] tab "Windows Server, version 2004".
    19041: ("Windows Server 2004", "H     H     H     H     H     H     PH    .     .     .     .     .     .     ."),
    # [M21] tab "Windows Server, version 20H2".
    19042: ("Windows Server 20H2", "H     H     H     H     H     H     H     PH    .     .     .     .     .     ."),
    # [M21] and [M25] tab "Windows Server 2022": only 2022 images by process isolation.
    20348: ("Windows Server 2022", "H     H     H     H     H     H     H     H     PH    .     .     .     .     ."),
    # [M25] tab "Windows 11" and its opening: process-isolated WS2022 containers on Windows 11.
    22000: ("Windows 11 21H2",     "H     H     H     H     H     H     H     H     PH    PH    .     .     .     ."),
    # [M25] tab "Windows 11".
    22621: ("Windows 11 22H2",     "H     H     H     H     H     H     H     H     PH    H     PH    .     .     ."),
    # [M25] tab "Windows 11".
    22631: ("Windows 11 23H2",     "H     H     H     H     H     H     H     H     PH    H     H     PH    .     ."),
    # [P23]: the 2022 LTSC image only, by process isolation.
    25398: ("Windows Server 23H2", "H     H     H     H     H     H     H     H     PH    H     H     H     PH    ."),
    # [M25] tab "Windows Server 2025": 2025 and 2022 images by process isolation; tab
    # "Windows 11", footnote 1: the same from Windows 11 24H2 (also build 26100).
    26100: ("Windows Server 2025", "H     H     H     H     H     H     H     H     PH    H     H     H     H     PH"),
}
# fmt: on

# [M25] "Windows Server 2016 Restrictions": a 2016 image runs on a 2016 host only at the same
# revision; "for hosts or images using Windows Server, version 1809 and later, this rule
# doesn't apply" ([M18] said "starting with 1709"; both scope the rule to 2016).
REVISION_BOUND_BUILDS = frozenset({14393})
# [C18]: the first client build Docker lets run process isolation.
CLIENT_PROCESS_FROM = 17763
# A host build newer than every row: [LTSC] "the previous ltsc container image" and its own
# build. A newer Windows client also keeps [M25]'s Windows 11 tab, which lists Windows
# Server 2022 images for process isolation on Windows 11 without a closing build.
NEWER_SERVER_PROCESS = frozenset({26100})
NEWER_CLIENT_PROCESS = frozenset({20348, 26100})


@dataclass(frozen=True, slots=True)
class HostRow:
    build: int
    release: str
    process: frozenset[int]  # image builds HCS starts process-isolated on this host
    hyperv: frozenset[int]  # image builds HCS starts in a Hyper-V utility VM here


def _row(build: int, release: str, marks: str) -> HostRow:
    cells = marks.split()
    if len(cells) != len(COLUMNS) or any(c not in ("PH", "H", "P", ".") for c in cells):
        raise ValueError(f"HCS matrix row {build}: {len(cells)} marks for {len(COLUMNS)} columns")
    return HostRow(
        build=build,
        release=release,
        process=frozenset(b for b, c in zip(COLUMNS, cells) if "P" in c),
        hyperv=frozenset(b for b, c in zip(COLUMNS, cells) if "H" in c),
    )


ROWS: dict[int, HostRow] = {b: _row(b, release, marks) for b, (release, marks) in _MATRIX.items()}
NEWEST_ROW = max(ROWS)


def process_starts(host: WindowsVersion, image: WindowsVersion, *, client: bool = False) -> bool:
    """Does HCS start ``image`` process-isolated (shared kernel) on ``host``?"""
    if client and host.build < CLIENT_PROCESS_FROM:
        return False
    row = ROWS.get(host.build)
    if row is not None:
        runs = image.build in row.process
    elif host.build > NEWEST_ROW:
        newer = NEWER_CLIENT_PROCESS if client else NEWER_SERVER_PROCESS
        runs = image.build == host.build or image.build in newer
    else:
        # A build no row names (a client-only or preview build): every version of the page,
        # "blocked from starting when the build number ... [is] different".
        runs = image.build == host.build
    return runs and not _revision_blocks(host, image)


def _revision_blocks(host: WindowsVersion, image: WindowsVersion) -> bool:
    if host.build not in REVISION_BOUND_BUILDS or image.build != host.build:
        return False
    # A version reported without its revision gives HCS nothing to compare in this simulation.
    return None not in (host.revision, image.revision) and host.revision != image.revision


def hyperv_starts(host: WindowsVersion, image: WindowsVersion) -> bool:
    """Does HCS start ``image`` in a Hyper-V utility VM on ``host`` (the role being present)?"""
    row = ROWS.get(host.build)
    if row is not None and image.build in COLUMNS:
        return image.build in row.hyperv
    # Builds the matrix has no column or row for: [M25]'s sentence, older runs, newer never.
    return image.build <= host.build


def starts(host: WindowsVersion, image: WindowsVersion, isolation: str, *, client: bool = False) -> bool:
    """``isolation`` is ``process`` or ``hyperv``."""
    if isolation == "process":
        return process_starts(host, image, client=client)
    if isolation == "hyperv":
        return hyperv_starts(host, image)
    raise ValueError(f"unknown isolation {isolation!r}")
