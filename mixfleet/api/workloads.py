"""Facts about Deployments and their ReplicaSets that the controllers and mixctl read the same
way: the template hash, revisions and their annotations, the rolling-update budget, and
when a rollout is complete (Kubernetes' rules).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from mixfleet.api.types import ObjView

TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: ObjView) -> str:
    """A stable name-safe hash of a pod template, ignoring its own pod-template-hash label."""
    t = copy.deepcopy(dict(template))
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop(TEMPLATE_HASH, None)
    digest = hashlib.sha256(json.dumps(t, sort_keys=True, separators=(",", ":")).encode())
    n = int.from_bytes(digest.digest()[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(_HASH_ALPHABET))
        out.append(_HASH_ALPHABET[r])
    return "".join(out)


def revision(obj: ObjView) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def _resolve(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def surge_and_unavailable(deployment: ObjView) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; both zero would stall, so unavailable is 1."""
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def rollout_complete(deployment: ObjView) -> bool:
    """What ``mixctl rollout status`` waits for (Kubernetes' rule)."""
    spec, st = deployment.get("spec") or {}, deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    want = int(spec.get("replicas", 1))
    return (
        int(st.get("observedGeneration", 0)) >= int(meta.get("generation", 1))
        and int(st.get("updatedReplicas", 0)) == want
        and int(st.get("replicas", 0)) == want
        and int(st.get("availableReplicas", 0)) >= want
    )
