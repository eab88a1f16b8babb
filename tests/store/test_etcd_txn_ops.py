"""A transaction of 100 compare-and-swap updates fits etcd's --max-txn-ops (128): the
scheduler binds up to 100 pods per transaction and an apply may update 100 objects. Before,
each update carried two compares, so such a transaction was refused ("too many operations
in txn request") on etcd."""

from __future__ import annotations

import pytest

from mixfleet.store.base import ConflictError, NotFoundError, Op
from mixfleet.store.etcd import EtcdStore

pytestmark = pytest.mark.etcd


async def test_one_hundred_checked_updates_commit_in_one_transaction(etcd_store: EtcdStore) -> None:
    rev = await etcd_store.txn([Op.create(f"/k/{i}", b"a") for i in range(100)])
    rev2 = await etcd_store.txn([Op.update(f"/k/{i}", b"b", rev) for i in range(100)])
    kvs, _ = await etcd_store.list("/k/")
    assert rev2 > rev and {kv.value for kv in kvs} == {b"b"} and len(kvs) == 100


async def test_a_checked_update_of_an_absent_key_still_fails(etcd_store: EtcdStore) -> None:
    rev = await etcd_store.txn([Op.create("/present", b"a")])
    with pytest.raises((NotFoundError, ConflictError)):
        await etcd_store.txn([Op.update("/absent", b"b", rev)])
