"""Taints and tolerations, matched as Kubernetes matches them: a toleration with an empty
effect matches every effect; ``Exists`` with an empty key tolerates every taint; ``Equal``
needs key and value to match. The scheduler (NoSchedule, NoExecute at placement) and the
node lifecycle controller (NoExecute eviction) both match through this one rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = ("Equal", "Exists")


class TolerationError(ValueError):
    """A toleration that cannot be matched (unknown operator); the message names the field."""


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str  # Equal | Exists
    value: str
    effect: str  # "" matches every effect
    seconds: int | None = None  # tolerationSeconds: tolerated for this long only (NoExecute)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Toleration:
        op = raw.get("operator") or "Equal"
        if op not in OPERATORS:
            raise TolerationError(f"spec.tolerations[].operator: {op!r} is not Equal or Exists")
        seconds = raw.get("tolerationSeconds")
        return cls(str(raw.get("key") or ""), op, str(raw.get("value") or ""), str(raw.get("effect") or ""),
                   int(seconds) if seconds is not None else None)

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        if self.effect and self.effect != effect:
            return False
        if self.operator == "Exists":
            return not self.key or self.key == key
        return self.key == key and self.value == value


def tolerations(pod: Mapping[str, Any]) -> tuple[Toleration, ...]:
    """The pod's tolerations; raises TolerationError for one that cannot be matched."""
    return tuple(Toleration.parse(t) for t in (pod.get("spec") or {}).get("tolerations") or ())
