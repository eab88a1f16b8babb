"""Versions as the domain reads them: Windows versions (``10.0.20348.2655``: major, minor,
build, revision), the well-known builds and Microsoft's image tag families, and Linux kernel
versions (the numeric prefix of ``uname -r``). Parsing only: which build runs which image
is the scheduler's rule (:mod:`mixfleet.scheduler.versions`), and what HCS refuses is the
simulated engine's own table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WS2016 = 14393
WS2019 = 17763
WS2022 = 20348
WS2025 = 26100


class InvalidVersionError(ValueError):
    """A version string that is not ``major.minor.build[.revision]`` or a bare build (Windows),
    or does not start with a number (Linux kernel)."""


@dataclass(frozen=True, slots=True)
class WindowsVersion:
    major: int
    minor: int
    build: int
    revision: int | None = None  # None: not reported

    @classmethod
    def parse(cls, text: str | int) -> WindowsVersion:
        """``10.0.20348.2655`` -> build 20348, revision 2655; ``10.0.17763`` and ``17763`` too."""
        parts = str(text).strip().split(".")
        try:
            nums = [int(p) for p in parts]
        except ValueError as e:
            raise InvalidVersionError(f"invalid Windows version {text!r}") from e
        if len(nums) == 1:
            return cls(10, 0, nums[0])
        if len(nums) == 3:
            return cls(nums[0], nums[1], nums[2])
        if len(nums) == 4:
            return cls(nums[0], nums[1], nums[2], nums[3])
        raise InvalidVersionError(f"invalid Windows version {text!r}")

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.build}"
        return base if self.revision is None else f"{base}.{self.revision}"


def parse_windows_version(text: str | int) -> WindowsVersion:
    """``10.0.20348.2655`` -> WindowsVersion(build=20348, revision=2655)."""
    return WindowsVersion.parse(text)


_KERNEL_RE = re.compile(r"\s*(?:>=\s*)?v?(\d+(?:\.\d+)*)")


def parse_kernel_version(text: str) -> tuple[int, ...]:
    """The numeric dotted prefix of ``uname -r``: ``6.1.0-18-amd64`` -> (6, 1, 0).

    Also accepts a constraint written ``>= 5.10``.
    """
    m = _KERNEL_RE.match(str(text))
    if not m:
        raise InvalidVersionError(f"invalid kernel version {text!r}")
    return tuple(int(p) for p in m.group(1).split("."))


def kernel_at_least(kernel: tuple[int, ...], minimum: tuple[int, ...]) -> bool:
    """Numeric comparison, missing parts count as zero (5.10 == 5.10.0)."""
    width = max(len(kernel), len(minimum))
    return _pad(kernel, width) >= _pad(minimum, width)


def _pad(v: tuple[int, ...], width: int) -> tuple[int, ...]:
    return v + (0,) * (width - len(v))


# Microsoft's tag families (docs/WINDOWS-COMPAT.md, "Versions"): what build an image tagged
# ...ltsc2022 or ...-1809 was built for, when neither the manifest nor any node says.
TAG_FAMILY_BUILDS: dict[str, int] = {
    "ltsc2016": 14393,
    "sac2016": 14393,
    "1709": 16299,
    "1803": 17134,
    "1809": 17763,
    "ltsc2019": 17763,
    "1903": 18362,
    "1909": 18363,
    "2004": 19041,
    "20h2": 19042,
    "ltsc2022": 20348,
    "ltsc2025": 26100,
}
_TAG_TOKEN = re.compile(r"[a-z0-9]+")
_TAG_VERSION = re.compile(r"(?<![0-9])10\.0\.(\d{5})(?:\.(\d+))?")


def build_from_image_tag(image: str) -> WindowsVersion | None:
    """The Windows build an image's tag names (``servercore:ltsc2019``,
    ``iis:windowsservercore-ltsc2022``, ``app:10.0.20348.2655``), or None."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return None  # no tag (the colon was a registry port)
    tag = tag.lower()
    full = _TAG_VERSION.search(tag)
    if full:
        return WindowsVersion(10, 0, int(full[1]), int(full[2]) if full[2] else None)
    for token in _TAG_TOKEN.findall(tag):
        if token in TAG_FAMILY_BUILDS:
            return WindowsVersion(10, 0, TAG_FAMILY_BUILDS[token])
    return None
