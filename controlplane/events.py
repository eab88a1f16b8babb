"""Records Event objects (scheduling decisions, failures, evictions) with a count, so a
repeated event updates one object instead of flooding the store (like Kubernetes' event
aggregation by involved object, reason and message)."""

from __future__ import annotations

import hashlib

from controlplane.objects import Obj, now_rfc3339
from controlplane.registry import ObjectExistsError, ObjectNotFoundError, Registry, StaleObjectError
from mixfleet import log

_log = log.get("events")
NORMAL, WARNING = "Normal", "Warning"


class EventRecorder:
    def __init__(self, registry: Registry, *, component: str) -> None:
        self.registry = registry
        self.component = component

    async def record(self, involved: Obj, *, type: str, reason: str, message: str) -> None:
        """Best effort: an event that cannot be written is logged, never raised."""
        m = involved.get("metadata") or {}
        ns = m.get("namespace") or "default"
        digest = hashlib.sha256(f"{reason}\0{message}".encode()).hexdigest()[:10]
        name = f"{m.get('name')}.{digest}"
        for _ in range(3):
            try:
                await self._bump(name, ns, involved, type=type, reason=reason, message=message)
                return
            except (StaleObjectError, ObjectExistsError):
                continue
            except Exception as e:
                _log.warning("event.write_failed", reason=reason, error=str(e))
                return

    async def _bump(self, name: str, ns: str, involved: Obj, **fields: str) -> None:
        now = now_rfc3339()
        try:
            ev = await self.registry.get("Event", name, ns)
        except ObjectNotFoundError:
            m = involved.get("metadata") or {}
            await self.registry.create(
                {
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
            )
            return
        ev["count"] = int(ev.get("count", 1)) + 1
        ev["lastTimestamp"] = now
        await self.registry.update(ev)
