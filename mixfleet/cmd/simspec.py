"""Parses ``--simulate`` specs: which simulated nodes `mixfleet dev` and `mixfleet agent` add.

Syntax: ``OS[/VERSION][+hyperv][xCOUNT][:key=value,...]``

- OS: ``windows`` or ``linux``; VERSION: a Windows build (``20348`` or ``10.0.20348.2655``)
  or a Linux kernel (``6.1.0-18-amd64``);
- ``+hyperv``: the host has the Hyper-V role; ``xCOUNT``: that many identical nodes;
- keys: ``cpu`` (``8``), ``memory`` (``32Gi``), ``arch`` (``amd64``/``arm64``), ``edition``
  (``server``/``client``), ``name`` (prefix), ``lcow`` (``true``), ``pods`` (max pods).

Examples: ``windows/20348``, ``windows/17763+hyperv``, ``linux/6.1x3``,
``windows/26100+hyperv:cpu=16,memory=64Gi``, ``windows/22631:edition=client``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mixfleet.api import quantity
from mixfleet.api.versions import WindowsVersion

_SPEC = re.compile(
    r"^(?P<os>windows|linux)"
    r"(?:/(?P<version>[0-9][0-9A-Za-z.\-_]*?))?"
    r"(?P<hyperv>\+hyperv)?"
    r"(?:x(?P<count>[1-9][0-9]*))?"
    r"(?::(?P<opts>.+))?$"
)
_DEFAULT_VERSION = {"windows": "10.0.20348.2655", "linux": "6.1.0-18-amd64"}
_KEYS = {"cpu", "memory", "arch", "edition", "name", "lcow", "pods"}


class SimSpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SimulatedNodeSpec:
    name: str
    os: str
    version: str  # full Windows version (10.0.B.R) or Linux kernel release
    hyperv: bool
    cpu: str
    memory: str
    arch: str = "amd64"
    edition: str = "server"
    lcow: bool = False
    pods: int = 110

    @property
    def windows_build(self) -> int | None:
        return WindowsVersion.parse(self.version).build if self.os == "windows" else None


def _windows_version(v: str) -> str:
    if re.fullmatch(r"\d{4,5}", v):
        return f"10.0.{v}.1"
    if re.fullmatch(r"10\.0\.\d{4,5}(\.\d+)?", v):
        return v if v.count(".") == 3 else f"{v}.1"
    raise SimSpecError(f'Windows version "{v}": expected a build like 20348 or 10.0.20348.2655')


def parse(spec: str, *, taken: set[str] | None = None) -> list[SimulatedNodeSpec]:
    """One spec → its nodes. Node names are unique across calls sharing ``taken``."""
    m = _SPEC.match(spec.strip())
    if not m:
        raise SimSpecError(
            f'--simulate "{spec}": expected OS[/VERSION][+hyperv][xCOUNT][:key=value,...], '
            "e.g. windows/20348+hyperv or linux/6.1x3"
        )
    os_ = m["os"]
    opts: dict[str, str] = {}
    for part in filter(None, (m["opts"] or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or key not in _KEYS:
            raise SimSpecError(
                f'--simulate "{spec}": unknown option "{part}" (known: {", ".join(sorted(_KEYS))})'
            )
        opts[key] = value
    version = m["version"] or _DEFAULT_VERSION[os_]
    if os_ == "windows":
        version = _windows_version(version)
    elif not re.match(r"^\d+(\.\d+)*", version):
        raise SimSpecError(f'--simulate "{spec}": Linux kernel "{version}" must start with digits')
    for key, check in (("cpu", quantity.cpu_millis), ("memory", quantity.memory_bytes)):
        if key in opts:
            try:
                check(opts[key])
            except ValueError as e:
                raise SimSpecError(f'--simulate "{spec}": {key}: {e}') from e
    edition = opts.get("edition", "server")
    if edition not in ("server", "client"):
        raise SimSpecError(f'--simulate "{spec}": edition must be server or client')
    default_name = f"sim-{os_}-{version.split('.')[2] if os_ == 'windows' else version.split('-')[0]}"
    prefix = opts.get("name") or default_name + ("-hv" if m["hyperv"] else "")
    taken = taken if taken is not None else set()
    nodes = []
    for _ in range(int(m["count"] or 1)):
        i = 1
        while f"{prefix}-{i}" in taken:
            i += 1
        taken.add(f"{prefix}-{i}")
        nodes.append(
            SimulatedNodeSpec(
                name=f"{prefix}-{i}",
                os=os_,
                version=version,
                hyperv=bool(m["hyperv"]),
                cpu=opts.get("cpu", "8"),
                memory=opts.get("memory", "32Gi"),
                arch=opts.get("arch", "amd64"),
                edition=edition,
                lcow=opts.get("lcow", "false").lower() == "true",
                pods=int(opts.get("pods", "110")),
            )
        )
    return nodes


def parse_all(specs: list[str]) -> list[SimulatedNodeSpec]:
    taken: set[str] = set()
    return [n for s in specs for n in parse(s, taken=taken)]
