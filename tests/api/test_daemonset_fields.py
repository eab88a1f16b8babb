"""A DaemonSet's spec: every field of Kubernetes' DaemonSetSpec is honoured or refused at
apply naming it, and the update strategy's rules are checked (api/supported.py, validation)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client as k8s

from mixfleet.api.defaults import apply_defaults
from mixfleet.api.validation import validate

HONOURED = {"selector", "template", "updateStrategy"}

BASE: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}},
                          "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}},
}


def _errors(**spec: Any) -> list[str]:
    obj = copy.deepcopy(BASE)
    obj["spec"].update(spec)
    return [str(e) for e in validate(apply_defaults(obj))]


def test_the_example_is_valid() -> None:
    """The base DaemonSet passes once defaulted (RollingUpdate, maxUnavailable 1)."""
    assert _errors() == []
    assert apply_defaults(BASE)["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


@pytest.mark.parametrize("field", sorted(set(k8s.V1DaemonSetSpec.attribute_map.values()) - HONOURED))
def test_unhonoured_spec_fields_are_refused_naming_them(field: str) -> None:
    """minReadySeconds and revisionHistoryLimit are not honoured, so apply refuses them."""
    errs = _errors(**{field: 5})
    assert any(e.startswith(f"spec.{field}: not supported by Mixfleet") for e in errs), errs


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        pytest.param({"type": "OnDelete", "rollingUpdate": {"maxUnavailable": 1}},
                     "spec.updateStrategy.rollingUpdate: may not be specified when strategy type is OnDelete",
                     id="ondelete-with-rolling"),
        pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
                     "spec.updateStrategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0",
                     id="budget-that-never-moves"),
        pytest.param({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}},
                     "must not be greater than 100%", id="over-100-percent"),
        pytest.param({"type": "Sometimes"}, "spec.updateStrategy.type", id="unknown-type"),
    ],
)
def test_update_strategy_rules(strategy: dict, message: str) -> None:
    """A strategy that cannot work is refused at apply with the field named."""
    errs = _errors(updateStrategy=strategy)
    assert any(message in e for e in errs), errs
