"""A ReplicaSet's burst of new pods never names two pods alike, even when the random
suffixes repeat (the store refuses a transaction that writes one key twice)."""

from __future__ import annotations

import itertools

import pytest

from mixfleet.api import objects
from mixfleet.controlplane.controllers import replicaset
from tests.controllers.conftest import deployment


def test_a_burst_of_pods_has_distinct_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Suffixes drawn twice, or already used by a pod of the set, are drawn again."""
    draws = itertools.chain(["aaaaa", "aaaaa", "bbbbb", "ccccc", "bbbbb", "ddddd"])
    monkeypatch.setattr(objects, "random_suffix", lambda n=5: next(draws))
    rs = {**deployment("web", replicas=3), "kind": "ReplicaSet"}
    rs["metadata"] = {**rs["metadata"], "uid": "u1"}
    pods = replicaset._new_pods(rs, 3, taken={"web-ccccc"})
    assert [p["metadata"]["name"] for p in pods] == ["web-aaaaa", "web-bbbbb", "web-ddddd"]
