"""The rolling-update planner: each step keeps within maxSurge and maxUnavailable."""

from __future__ import annotations

import pytest

from mixfleet.api.workloads import surge_and_unavailable, template_hash
from mixfleet.controlplane.controllers.rollout import (
    RSState,
    plan_recreate,
    plan_rolling,
)


def _d(replicas: int, surge: object, unavailable: object) -> dict:
    return {"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": surge, "maxUnavailable": unavailable}}}}


@pytest.mark.parametrize(
    "replicas,surge,unavailable,want",
    [
        pytest.param(4, "25%", "25%", (1, 1), id="defaults-of-4"),
        pytest.param(10, "25%", "25%", (3, 2), id="surge-rounds-up-unavailable-down"),
        pytest.param(3, 0, "10%", (0, 1), id="both-zero-means-one-unavailable"),
        pytest.param(3, 2, 5, (2, 3), id="unavailable-capped-at-replicas"),
    ],
)
def test_surge_and_unavailable(replicas: int, surge: object, unavailable: object, want: tuple) -> None:
    """Percentages resolve like Kubernetes: surge rounds up, unavailable rounds down."""
    assert surge_and_unavailable(_d(replicas, surge, unavailable)) == want


@pytest.mark.parametrize(
    "new,old,want",
    [
        pytest.param(RSState.of("n", 0, 0, 0), [RSState.of("o", 4, 4, 4)], {"n": 1},
                     id="first-step-surges"),
        pytest.param(RSState.of("n", 1, 1, 0), [RSState.of("o", 4, 4, 4)], {"o": 3},
                     id="new-not-available-old-loses-only-the-unavailable-allowance"),
        pytest.param(RSState.of("n", 2, 2, 0), [RSState.of("o", 3, 3, 3)], {},
                     id="waits-for-new-pods-to-become-available"),
        pytest.param(RSState.of("n", 2, 2, 2), [RSState.of("o", 3, 3, 3)], {"o": 1},
                     id="available-new-pods-free-old-ones"),
        pytest.param(RSState.of("n", 4, 4, 4), [RSState.of("o", 1, 1, 1)], {"o": 0},
                     id="last-old-pod-goes"),
        pytest.param(RSState.of("n", 1, 1, 1), [RSState.of("o", 4, 4, 1)], {"o": 2},
                     id="unavailable-old-pods-go-first"),
        pytest.param(RSState.of("n", 6, 6, 6), [], {"n": 4}, id="scale-down"),
        pytest.param(RSState.of("n", 4, 4, 4), [], {}, id="steady"),
    ],
)
def test_plan_rolling(new: RSState, old: list[RSState], want: dict) -> None:
    """One step per sync, never below replicas - maxUnavailable available (4 replicas, 1/1)."""
    assert plan_rolling(replicas=4, surge=1, unavailable=1, new=new, old=old) == want


def test_rolling_steps_never_break_the_budget() -> None:
    """Simulated to the end (new pods become available a step later), availability never
    drops below replicas - maxUnavailable and pods never exceed replicas + maxSurge."""
    replicas, surge, unavailable = 5, 2, 1
    new, old = RSState.of("n", 0, 0, 0), [RSState.of("o", 5, 5, 5)]
    for _ in range(50):
        plan = plan_rolling(replicas=replicas, surge=surge, unavailable=unavailable, new=new, old=old)
        if not plan and new.available == replicas:
            break
        n = plan.get("n", new.replicas)
        o = plan.get("o", old[0].replicas)
        assert n + o <= replicas + surge
        assert min(new.available, n) + min(old[0].available, o) >= replicas - unavailable
        new = RSState.of("n", n, n, n)  # the new pods come up before the next sync
        old = [RSState.of("o", o, o, o)]
    assert (new.replicas, old[0].replicas) == (5, 0)


def test_recreate_removes_old_pods_before_starting_new_ones() -> None:
    """Recreate scales the old set to zero and waits for its pods to be gone."""
    assert plan_recreate(replicas=3, new=RSState.of("n", 0, 0, 0), old=[RSState.of("o", 3, 3, 3)]) == {"o": 0}
    assert plan_recreate(replicas=3, new=RSState.of("n", 0, 0, 0), old=[RSState.of("o", 0, 2, 0)]) == {}
    assert plan_recreate(replicas=3, new=RSState.of("n", 0, 0, 0), old=[RSState.of("o", 0, 0, 0)]) == {"n": 3}


def test_template_hash_ignores_its_own_label() -> None:
    """A ReplicaSet's template (with pod-template-hash) hashes like its Deployment's."""
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x:1"}]}}
    labelled = {"metadata": {"labels": {"app": "web", "pod-template-hash": template_hash(t)}},
                "spec": t["spec"]}
    assert template_hash(labelled) == template_hash(t)
    assert template_hash({**t, "spec": {"containers": [{"name": "a", "image": "x:2"}]}}) != template_hash(t)
