"""``persistentVolumeClaim``: node-local persistent data (api/claims.py), a directory that
outlives the pods using it and goes when its claim is deleted.

Layout, under the volume manager's root (the kubelet's keeps local volumes outside pod
directories likewise)::

    <root>/claims/<claim uid>/data          what the pod's containers mount
    <root>/claims/<claim uid>/claim.json    namespace, name, uid: for the collector
    <root>/pods/<pod uid>/volumes/kubernetes.io~pvc/<volume>/claim-uid
                                            which claim a pod here uses (gone with the pod)

The directory is named by the claim's uid, so a claim deleted and made again under the same
name starts empty. A claim is set up only on the node it is bound to: one not bound yet (a
pod a user bound by ``spec.nodeName``, whose claim the control plane binds next) or bound to
another node keeps the pod waiting, with the reason. Its requested storage must be free on
the node's filesystem when the directory is first made (it is not a quota afterwards, as
with Kubernetes' hostPath and local volumes).

:func:`collect` removes the data of claims that no longer exist (or exist under a new uid)
and that no pod directory here refers to; the claim's ``kubernetes.io/pvc-protection``
finalizer has kept it until no pod used it, so only a pod already stopped can still be here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

from mixfleet.api import claims, quantity
from mixfleet.nodeagent.volumes.errors import ContainerConfigError, VolumeSetupError
from mixfleet.nodeagent.volumes.sources import ObjectGetter, Prepared, VolumeContext
from mixfleet.util import log

_log = log.get("nodeagent.volumes")

PLUGIN = "kubernetes.io~pvc"
_CLAIM_FILE = "claim.json"
_POD_REF = "claim-uid"


def claims_dir(root: Path) -> Path:
    return root / "claims"


class Claim:
    field = "persistentVolumeClaim"
    plugin = PLUGIN
    refreshes = False

    async def setup(
        self, ctx: VolumeContext, name: str, source: Mapping[str, Any], path: Path
    ) -> Prepared:
        claim_name = str(source.get("claimName") or "")
        claim = await ctx.get_object(claims.KIND, ctx.namespace, claim_name)
        what = f'persistentvolumeclaim "{claim_name}"'
        if claim is None:
            raise VolumeSetupError(name, f"{what} not found")
        here = str((ctx.pod.get("spec") or {}).get("nodeName") or "")
        bound = claims.selected_node(claim)
        if bound is None:
            raise VolumeSetupError(name, f"{what} is not bound to a node yet")
        if bound != here:
            raise VolumeSetupError(name, f'{what} is bound to node "{bound}", not to this node "{here}"')
        uid = str((claim.get("metadata") or {}).get("uid") or "")
        data = claims_dir(path.parents[4]) / uid / "data"  # path: <root>/pods/<uid>/volumes/<plugin>/<name>
        try:
            if not data.is_dir():
                if ctx.host_fs:
                    _check_free(name, what, claim, data.parents[1])
                _make(data, claim)
            path.mkdir(parents=True, exist_ok=True)
            (path / _POD_REF).write_text(uid)
        except OSError as e:
            raise VolumeSetupError(name, f"{what}: {e.strerror or e}") from e
        return Prepared(str(data), read_only=bool(source.get("readOnly")))

    async def teardown(self, path: Path) -> None:
        """Nothing to undo: the data stays for the claim's next pod."""


def _check_free(name: str, what: str, claim: Mapping[str, Any], under: Path) -> None:
    raw = claims.requested_storage(claim)
    if raw is None:
        return
    wanted = quantity.memory_bytes(raw)
    under.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(under).free
    if free < wanted:
        raise VolumeSetupError(name, f"{what} requests {raw} ({wanted} bytes) but this node has "
                                     f"{free} bytes free under {under}")


def _make(data: Path, claim: Mapping[str, Any]) -> None:
    md = claim.get("metadata") or {}
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o777)  # any container user may write, as for emptyDir
    record = {"namespace": md.get("namespace") or "default", "name": md.get("name"), "uid": md.get("uid")}
    (data.parent / _CLAIM_FILE).write_text(json.dumps(record))
    _log.info("claim.data_created", claim=f"{record['namespace']}/{record['name']}", path=str(data))


def _in_use(root: Path) -> set[str]:
    """Claim uids that a pod directory on this node refers to."""
    return {p.read_text().strip() for p in root.glob(f"pods/*/volumes/{PLUGIN}/*/{_POD_REF}")}


async def collect(root: Path, get_object: ObjectGetter) -> list[str]:
    """Remove the data of claims gone from the cluster that no pod here uses; returns the
    ``namespace/name`` of each removed. A claim the control plane cannot be asked about is
    kept (asked again next time)."""
    base = claims_dir(root)
    if not base.is_dir():
        return []
    used = _in_use(root)
    removed = []
    for entry in sorted(base.iterdir()):
        if entry.name in used:
            continue
        try:
            record = json.loads((entry / _CLAIM_FILE).read_text())
            ns, name = str(record["namespace"]), str(record["name"])
            claim = await get_object(claims.KIND, ns, name)
        except (OSError, ValueError, KeyError, ContainerConfigError) as e:
            _log.warning("claim.collect_skipped", path=str(entry), error=str(e))
            continue
        if claim is not None and (claim.get("metadata") or {}).get("uid") == entry.name:
            continue
        try:
            shutil.rmtree(entry)
        except OSError as e:
            _log.warning("claim.data_remove_failed", claim=f"{ns}/{name}", path=str(entry), error=str(e))
            continue
        _log.info("claim.data_removed", claim=f"{ns}/{name}", path=str(entry))
        removed.append(f"{ns}/{name}")
    return removed


def known(root: Path) -> list[str]:
    """The claim uids with data on this node (for tests and diagnostics)."""
    base = claims_dir(root)
    return sorted(p.name for p in base.iterdir()) if base.is_dir() else []

