"""etcd over its space quota (its NOSPACE alarm): the store says "disk full" with the way
out, as StoreFullError (RESOURCE_EXHAUSTED at the API), not an unnamed etcd error."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixfleet.store.base import StoreFullError
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import _start_cluster, require_etcd

pytestmark = pytest.mark.etcd


async def test_etcd_over_quota_is_store_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 2 MiB quota, writes end in StoreFullError naming the quota and etcdctl's
    disarm; a delete still commits (etcd takes deletes under the alarm)."""
    require_etcd()
    monkeypatch.setenv("ETCD_QUOTA_BACKEND_BYTES", str(2 << 20))  # etcd reads ETCD_* flags
    cluster = _start_cluster(1, str(tmp_path))
    store = EtcdStore([cluster.endpoint], prefix="/nospace")
    try:
        with pytest.raises(StoreFullError) as refused:
            for i in range(200):
                await store.put(f"/k/{i}", b"x" * 100_000)
        assert "space quota is exceeded" in str(refused.value) and "alarm disarm" in str(refused.value)
        await store.delete("/k/0")
        assert await store.get("/k/0") is None
    finally:
        await store.close()
        cluster.stop()
