"""Records Event objects (scheduling decisions, failures, evictions) with a count, so a
repeated event updates one object instead of flooding the store (like Kubernetes' event
aggregation by involved object, reason and message)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from mixfleet.api import times
from mixfleet.api.types import Obj, ObjView
from mixfleet.controlplane.registry import (
    Create,
    ObjectExistsError,
    ObjectNotFoundError,
    Registry,
    StaleObjectError,
)
from mixfleet.util import log

_log = log.get("events")
NORMAL, WARNING = "Normal", "Warning"


class EventRecorder:
    def __init__(self, registry: Registry, *, component: str) -> None:
        self.registry = registry
        self.component = component

    async def record(self, involved: ObjView, *, type: str, reason: str, message: str) -> None:
        """Best effort: an event that cannot be written is logged, never raised."""
        name, ns = _event_name(involved, reason, message)
        for _ in range(3):
            try:
                await self._bump(name, ns, involved, type=type, reason=reason, message=message)
                return
            except (StaleObjectError, ObjectExistsError):
                continue
            except Exception as e:
                _log.warning("event.write_failed", reason=reason, error=str(e))
                return

    async def record_many(
        self, items: Sequence[tuple[ObjView, str]], *, type: str, reason: str
    ) -> None:
        """Record one event per (involved object, message), created in one registry
        transaction when all are new (as for a batch of scheduling decisions: one commit
        instead of one per pod); if any exists already, each is recorded on its own."""
        if not items:
            return
        now = times.now()
        try:
            writes = []
            for involved, message in items:
                name, ns = _event_name(involved, reason, message)
                ev = self._event(name, ns, involved, now, type=type, reason=reason, message=message)
                writes.append(Create(ev))
            await self.registry.txn(writes)
            return
        except Exception as e:  # best effort, as record(): it logs what still fails
            _log.info("event.batch_fallback", reason=reason, events=len(items), error=str(e))
        for involved, message in items:
            await self.record(involved, type=type, reason=reason, message=message)

    def _event(self, name: str, ns: str, involved: ObjView, now: str, **fields: str) -> Obj:
        m = involved.get("metadata") or {}
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "kind": involved.get("kind"),
                "name": m.get("name"),
                "namespace": m.get("namespace", ""),
                "uid": m.get("uid", ""),
            },
            "reason": fields["reason"],
            "message": fields["message"],
            "type": fields["type"],
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self.component},
        }

    async def _bump(self, name: str, ns: str, involved: ObjView, **fields: str) -> None:
        now = times.now()
        try:
            ev = await self.registry.get("Event", name, ns)
        except ObjectNotFoundError:
            await self.registry.create(self._event(name, ns, involved, now, **fields))
            return
        ev["count"] = int(ev.get("count", 1)) + 1
        ev["lastTimestamp"] = now
        await self.registry.update(ev)


def _event_name(involved: ObjView, reason: str, message: str) -> tuple[str, str]:
    """(name, namespace): one Event per involved object, reason and message."""
    m = involved.get("metadata") or {}
    digest = hashlib.sha256(f"{reason}\0{message}".encode()).hexdigest()[:10]
    return f"{m.get('name')}.{digest}", m.get("namespace") or "default"
