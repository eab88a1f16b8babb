"""Tolerations match taints by Kubernetes' rule, for placement and for eviction alike."""

from __future__ import annotations

import pytest

from mixfleet.api import pods
from mixfleet.api.taints import Toleration, TolerationError

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
WINDOWS = {"key": "os", "value": "windows", "effect": "NoSchedule"}


def pod_with(*tolerations: dict) -> dict:
    return {"spec": {"tolerations": list(tolerations)}}


@pytest.mark.parametrize("toleration, taint, tolerated", [
    pytest.param({"key": "os", "value": "windows"}, WINDOWS, True, id="equal-any-effect"),
    pytest.param({"key": "os", "value": "linux"}, WINDOWS, False, id="equal-other-value"),
    pytest.param({"key": "os", "operator": "Exists"}, WINDOWS, True, id="exists-key"),
    pytest.param({"operator": "Exists"}, WINDOWS, True, id="exists-everything"),
    pytest.param({"operator": "Exists", "effect": "NoExecute"}, WINDOWS, False, id="other-effect"),
    pytest.param({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                 UNREACHABLE, True, id="unreachable-forever"),
    pytest.param({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                  "tolerationSeconds": 300}, UNREACHABLE, False, id="bounded-is-not-forever"),
    pytest.param({"operator": "Sometimes"}, WINDOWS, False, id="unknown-operator-tolerates-nothing"),
])
def test_tolerates_forever(toleration: dict, taint: dict, tolerated: bool) -> None:
    """A pod tolerates a taint forever only through a matching toleration without a time bound."""
    assert pods.tolerates(pod_with(toleration), taint) is tolerated


def test_unknown_operator_is_refused_by_name() -> None:
    """The scheduler's reading of a toleration names the field it cannot match."""
    with pytest.raises(TolerationError, match=r"spec.tolerations\[\].operator: 'Sometimes'"):
        Toleration.parse({"operator": "Sometimes"})
