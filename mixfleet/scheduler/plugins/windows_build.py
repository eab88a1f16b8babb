"""Windows build and isolation: which image runs on this host, and how.

For each container the candidates are its ``spec.platform.imageOverrides`` plus its own
image, whose build is ``spec.platform.osVersion``, else what node agents report for that
image name, else what its tag names by Microsoft's tag families (``ltsc2022`` is 20348). Isolation ``process`` or ``hyperv`` tries that mode; ``auto`` tries process
first and falls back to Hyper-V (docs/WINDOWS-COMPAT.md). Within a mode the image whose build
equals the host's wins, then the newest runnable build.

An image whose build nothing tells constrains nothing (Kubernetes' behaviour: a mismatch
then shows at pull time), except that a container with overrides uses only images whose
build is known, since the overrides are the user's per-build map.

Linux pods pass through with their images as written and no isolation.
"""

from __future__ import annotations

from mixfleet.api.versions import WS2016, WindowsVersion, build_from_image_tag
from mixfleet.scheduler.nodes import ClassFacts
from mixfleet.scheduler.plugins.base import ClassState, Context
from mixfleet.scheduler.requirements import PodRequirements
from mixfleet.scheduler.snapshot import Snapshot
from mixfleet.scheduler.status import (
    CLIENT_NO_PROCESS,
    HYPERV_BUILD,
    NO_HYPERV,
    NO_PROCESS,
    NODE_BUILD_UNKNOWN,
    PROCESS_BUILD,
    Status,
)
from mixfleet.scheduler.versions import (
    CLIENT_PROCESS_MIN_BUILD,
    hyperv_compatible,
    process_isolation_compatible,
)

MODES = {"process": ("process",), "hyperv": ("hyperv",), "auto": ("process", "hyperv")}
_UNAVAILABLE = (NO_HYPERV, NO_PROCESS)

Candidate = tuple[str, WindowsVersion | None]


class WindowsBuild:
    name = "WindowsBuild"

    def filter_class(self, req: PodRequirements, facts: ClassFacts, state: ClassState, ctx: Context) -> Status | None:
        if req.os != "windows" or facts.os != "windows":
            state.images = dict(req.containers)
            return None
        if facts.version is None:
            return Status.unresolvable(NODE_BUILD_UNKNOWN)
        failures = []
        for mode in MODES[req.isolation]:
            status = _unavailable(mode, facts)
            if status is None:
                images, status = _pick_images(req, facts, mode, ctx.snap)
                if images is not None:
                    state.isolation, state.images = mode, images
                    return None
            failures.append(status)
        # Report the most telling failure: a build mismatch over "no such mode here", and
        # the last mode tried (Hyper-V's "image newer than host" is final).
        telling = [s for s in failures if s.reason not in _UNAVAILABLE]
        return (telling or failures)[-1]


def _unavailable(mode: str, facts: ClassFacts) -> Status | None:
    if mode == "hyperv":
        return None if "hyperv" in facts.isolation_modes else Status.unresolvable(NO_HYPERV)
    if "process" not in facts.isolation_modes:
        return Status.unresolvable(NO_PROCESS)
    assert facts.version is not None
    if facts.edition == "client" and facts.version.build < CLIENT_PROCESS_MIN_BUILD:
        return Status.unresolvable(CLIENT_NO_PROCESS.format(host=facts.version.build))
    return None


def candidates(req: PodRequirements, name: str, image: str, snap: Snapshot) -> list[Candidate]:
    out: list[Candidate] = [(o.image, o.version) for o in req.overrides if o.container in (None, name)]
    info = snap.image(image)
    version = req.os_version or (info.version if info is not None else None) or build_from_image_tag(image)
    if version is not None or not out:
        out.append((image, version))
    return out


def _pick_images(
    req: PodRequirements, facts: ClassFacts, mode: str, snap: Snapshot
) -> tuple[dict[str, str] | None, Status]:
    host = facts.version
    assert host is not None
    client = facts.edition == "client"
    chosen: dict[str, str] = {}
    for name, image in req.containers:
        cands = candidates(req, name, image, snap)
        ok = [c for c in cands if c[1] is None or _runs(host, c[1], mode, client)]
        if not ok:
            template = PROCESS_BUILD if mode == "process" else HYPERV_BUILD
            builds = "/".join(sorted({_show(v) for _, v in cands if v is not None}))
            return None, Status.unresolvable(template.format(host=_show(host), image=builds))
        chosen[name] = max(ok, key=lambda c: _preference(host, c[1]))[0]
    return chosen, Status.unresolvable("")


def _runs(host: WindowsVersion, image: WindowsVersion, mode: str, client: bool) -> bool:
    if mode == "process":
        return process_isolation_compatible(host, image, client=client)
    return hyperv_compatible(host, image)


def _preference(host: WindowsVersion, v: WindowsVersion | None) -> tuple[bool, bool, int]:
    """Known over unknown, the host's own build over others, then the newest."""
    if v is None:
        return (False, False, 0)
    return (True, v.build == host.build, v.build)


def _show(v: WindowsVersion) -> str:
    if v.build == WS2016 and v.revision is not None:
        return f"{v.build}.{v.revision}"
    return str(v.build)


PLUGIN = WindowsBuild()
