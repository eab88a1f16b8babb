"""Which Windows host build runs which image build, by isolation mode: pure functions,
table-tested. Versions themselves are parsed in :mod:`mixfleet.api.versions`.

The rules are the ones in docs/WINDOWS-COMPAT.md (with their sources):

* Process isolation, host build below 20348: the image build must equal the host build.
* Process isolation, host build 20348 or above: ``floor <= image build <= host build``, where
  ``floor`` is the newest LTSC build (20348, 26100) strictly older than the host, or 20348
  when there is none (containerd's checkWindowsHostAndContainerCompat).
* Windows client hosts (``windowsEdition: client``): never process isolation below build
  17763; from 17763 the same rules apply, which for Windows 10 (< 20348) means matching
  builds and for Windows 11 (22000+) the range above (docs/WINDOWS-COMPAT.md: "a Windows 11
  22621 host runs 20348..22621").
* Revision (UBR): it matters only for Windows Server 2016 (14393). Microsoft's two pages
  disagree whether the cut is 1709 or 1809; we take the later page's wording ("from 1709
  on the revision never blocks"), so 16299/17134 ignore the revision, and a 14393 host
  runs a 14393 image by process isolation only when both revisions are equal. A revision
  that is not known (a three-part version) is not held against the pair: we cannot check
  what was never reported.
* Hyper-V isolation: any image build up to the host build (the revision never matters; the
  utility VM brings its own kernel). Whether the host has Hyper-V is a node fact checked
  by the filter, not here.
"""

from __future__ import annotations

from mixfleet.api.versions import WS2016, WS2019, WS2022, WS2025, WindowsVersion

# The LTSC builds that serve as the process-isolation floor for hosts >= 20348.
FLOOR_LTSC_BUILDS = (WS2022, WS2025)
# Windows client editions run process-isolated containers only from 1809 on.
CLIENT_PROCESS_MIN_BUILD = WS2019


def process_floor(host_build: int) -> int:
    """The oldest image build a host >= 20348 runs with process isolation."""
    older = [b for b in FLOOR_LTSC_BUILDS if b < host_build]
    return max(older) if older else WS2022


def process_isolation_compatible(
    host: WindowsVersion, image: WindowsVersion, *, client: bool = False
) -> bool:
    """Can ``host`` run ``image`` with process isolation (shared kernel)?"""
    if client and host.build < CLIENT_PROCESS_MIN_BUILD:
        return False
    if host.build < WS2022:
        if image.build != host.build:
            return False
        return not _revision_blocks(host, image)
    return process_floor(host.build) <= image.build <= host.build


def _revision_blocks(host: WindowsVersion, image: WindowsVersion) -> bool:
    if host.build != WS2016 or host.revision is None or image.revision is None:
        return False
    return host.revision != image.revision


def hyperv_compatible(host: WindowsVersion, image: WindowsVersion) -> bool:
    """Can ``host`` run ``image`` in a Hyper-V utility VM? (host must also have the role)"""
    return image.build <= host.build
