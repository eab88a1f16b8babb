"""Store compaction on the leader, like the Kubernetes API server's: every interval, the
store's history is compacted to the revision it was at one interval ago.

etcd keeps every revision until someone compacts it, so without this its history (and the
memory and disk it takes) grows for ever under update churn. A watcher more than an interval
behind re-lists ("too old"), which every watcher here handles. The embedded store also
compacts itself by count, size and age (store/embedded.py); compacting it here as well is
harmless.
"""

from __future__ import annotations

import asyncio

from mixfleet.store.base import Store, StoreError
from mixfleet.util import log

_log = log.get("compaction")

COMPACTION_INTERVAL_SECONDS = 300.0  # the API server's --etcd-compaction-interval default


async def compact_periodically(store: Store, *, interval: float = COMPACTION_INTERVAL_SECONDS) -> None:
    """Runs until cancelled. A store that is away skips a round; the next one catches up."""
    previous = 0
    while True:
        try:
            current = await store.current_revision()
            if previous:
                await store.compact(previous)
                _log.info("compaction.done", revision=previous)
            previous = current
        except StoreError as e:
            _log.warning("compaction.failed", revision=previous, error=str(e))
        await asyncio.sleep(interval)
