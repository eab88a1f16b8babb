"""One contract suite for every Store implementation: EmbeddedStore on a temporary file and
EtcdStore on the session's real etcd (each test under its own key prefix).

Revisions are store-wide and etcd is shared, so tests compare revisions with each other and
never assume absolute numbers.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from mixfleet.store.base import (
    AlreadyExistsError,
    CompactedError,
    ConflictError,
    EventType,
    NotFoundError,
    Op,
    Store,
    StoreError,
    WatchEvent,
)
from mixfleet.store.embedded import EmbeddedStore
from mixfleet.store.etcd import EtcdStore
from tests.fixtures.etcd import unique_prefix

# Hang guard for reading watch events, not a speed assertion.
_WAIT = 15.0


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("etcd", id="etcd", marks=pytest.mark.etcd),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:
    if request.param == "embedded":
        s: Store = EmbeddedStore(str(tmp_path / "store.db"))
    else:
        server = request.getfixturevalue("etcd_server")
        s = EtcdStore([server.endpoint], prefix=unique_prefix())
    try:
        yield s
    finally:
        await s.close()


async def take(events: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    """The next n events of a watch."""

    async def read() -> list[WatchEvent]:
        return [await anext(events) for _ in range(n)]

    return await asyncio.wait_for(read(), _WAIT)


def summary(events: list[WatchEvent]) -> list[tuple]:
    return [(e.type, e.kv.key, e.kv.value, e.prev_value, e.revision) for e in events]


# -- create / get / list --------------------------------------------------------------


async def test_create_then_get(store: Store) -> None:
    """A created key reads back with its value and create_revision = mod_revision = the txn's."""
    rev = await store.create("/pods/a", b"v1")
    kv = await store.get("/pods/a")
    assert kv is not None
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision) == ("/pods/a", b"v1", rev, rev)


async def test_get_absent_is_none(store: Store) -> None:
    """Reading a key that was never written gives None, not an error."""
    assert await store.get("/pods/missing") is None


async def test_create_existing_raises_already_exists(store: Store) -> None:
    """A second create of the same key fails and leaves the first value in place."""
    await store.create("/pods/a", b"v1")
    with pytest.raises(AlreadyExistsError) as exc:
        await store.create("/pods/a", b"v2")
    assert exc.value.key == "/pods/a"
    assert (await store.get("/pods/a")).value == b"v1"  # type: ignore[union-attr]


async def test_list_prefix_sorted_with_revision(store: Store) -> None:
    """list returns only keys under the prefix, sorted by key, with the revision read at."""
    await store.create("/pods/c", b"3")
    await store.create("/pods/a", b"1")
    await store.create("/podsx/z", b"other prefix")
    last = await store.create("/pods/b", b"2")
    kvs, rev = await store.list("/pods/")
    assert [(kv.key, kv.value) for kv in kvs] == [("/pods/a", b"1"), ("/pods/b", b"2"), ("/pods/c", b"3")]
    assert rev == last == await store.current_revision()


async def test_list_returns_every_key_of_a_large_prefix(store: Store) -> None:
    """list returns all keys even when there are more than one etcd page (1000) holds."""
    for batch in range(11):  # etcd allows at most 128 ops per txn
        await store.txn([Op.put(f"/pods/p{batch:02}-{i:03}", b"x") for i in range(100)])
    kvs, _ = await store.list("/pods/")
    keys = [kv.key for kv in kvs]
    assert len(keys) == 1100 and keys == sorted(keys)


async def test_list_empty_prefix(store: Store) -> None:
    """Listing a prefix with no keys gives an empty list and still a revision."""
    await store.create("/nodes/n1", b"x")
    kvs, rev = await store.list("/pods/")
    assert kvs == [] and rev >= 1


# -- update / delete ------------------------------------------------------------------


async def test_update_with_current_revision_succeeds(store: Store) -> None:
    """CAS with the current mod_revision writes and moves mod_revision, keeping create_revision."""
    created = await store.create("/pods/a", b"v1")
    updated = await store.update("/pods/a", b"v2", created)
    kv = await store.get("/pods/a")
    assert updated > created
    assert (kv.value, kv.create_revision, kv.mod_revision) == (b"v2", created, updated)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "key,error",
    [
        pytest.param("/pods/a", ConflictError, id="stale-revision"),
        pytest.param("/pods/absent", NotFoundError, id="absent-key"),
    ],
)
async def test_update_precondition_failures(store: Store, key: str, error: type) -> None:
    """An update with a stale revision conflicts, of an absent key is NotFound; nothing is written."""
    first = await store.create("/pods/a", b"v1")
    await store.update("/pods/a", b"v2", first)
    before = await store.current_revision()
    with pytest.raises(error):
        await store.update(key, b"v3", first)
    assert (await store.get("/pods/a")).value == b"v2"  # type: ignore[union-attr]
    assert await store.current_revision() == before


async def test_conflict_reports_expected_and_actual(store: Store) -> None:
    """A lost CAS says which revision was expected and which was found."""
    first = await store.create("/pods/a", b"v1")
    second = await store.update("/pods/a", b"v2", first)
    with pytest.raises(ConflictError) as exc:
        await store.update("/pods/a", b"v3", first)
    assert (exc.value.key, exc.value.expected, exc.value.actual) == ("/pods/a", first, second)


@pytest.mark.parametrize(
    "key,use_precondition,stale,error",
    [
        pytest.param("/pods/a", False, False, None, id="unconditional"),
        pytest.param("/pods/a", True, False, None, id="matching-revision"),
        pytest.param("/pods/a", True, True, ConflictError, id="stale-revision"),
        pytest.param("/pods/absent", True, False, NotFoundError, id="absent-with-precondition"),
    ],
)
async def test_delete(store: Store, key: str, use_precondition: bool, stale: bool, error) -> None:
    """Delete removes the key; with a precondition it is a CAS that fails without writing."""
    created = await store.create("/pods/a", b"v1")
    expected = created - 1 if stale else created
    call = store.delete(key, expected if use_precondition else None)
    if error is None:
        assert await call > created
        assert await store.get(key) is None
    else:
        with pytest.raises(error):
            await call
        assert await store.get("/pods/a") is not None


async def test_delete_absent_without_precondition_is_noop(store: Store) -> None:
    """Deleting a missing key unconditionally succeeds and does not move the revision."""
    before = await store.create("/pods/a", b"v1")
    assert await store.delete("/pods/absent") == before
    assert await store.current_revision() == before


# -- txn ------------------------------------------------------------------------------


async def test_txn_applies_batch_under_one_revision(store: Store) -> None:
    """All ops of a txn land together, under a single new revision."""
    a = await store.create("/pods/a", b"1")
    rev = await store.txn(
        [Op.create("/pods/b", b"2"), Op.update("/pods/a", b"1b", a), Op.put("/pods/c", b"3")]
    )
    kvs, _ = await store.list("/pods/")
    assert [(kv.key, kv.value, kv.mod_revision) for kv in kvs] == [
        ("/pods/a", b"1b", rev),
        ("/pods/b", b"2", rev),
        ("/pods/c", b"3", rev),
    ]


@pytest.mark.parametrize(
    "ops,error",
    [
        pytest.param(
            lambda a: [Op.create("/pods/new", b"n"), Op.update("/pods/a", b"x", a - 1)],
            ConflictError,
            id="stale-update-after-create",
        ),
        pytest.param(
            lambda a: [Op.put("/pods/new", b"n"), Op.create("/pods/a", b"x")],
            AlreadyExistsError,
            id="create-existing-after-put",
        ),
        pytest.param(
            lambda a: [Op.delete("/pods/a", a), Op.delete("/pods/absent", 1)],
            NotFoundError,
            id="delete-absent-after-delete",
        ),
        pytest.param(
            lambda a: [Op.update("/pods/a", b"x", a - 1), Op.create("/pods/a2", b"y"),
                       Op.create("/pods/b", b"dup")],
            ConflictError,
            id="first-failing-op-reported",
        ),
    ],
)
async def test_txn_failure_writes_nothing(store: Store, ops, error: type) -> None:
    """A txn with one failing precondition raises that op's error and writes nothing at all."""
    await store.create("/pods/b", b"b")
    a = await store.create("/pods/a", b"a")
    with pytest.raises(error):
        await store.txn(ops(a))
    kvs, rev = await store.list("/pods/")
    assert [(kv.key, kv.value) for kv in kvs] == [("/pods/a", b"a"), ("/pods/b", b"b")]
    assert rev == a


async def test_txn_rejects_same_key_twice(store: Store) -> None:
    """A txn that touches one key twice is refused (etcd's rule, enforced by both stores)."""
    with pytest.raises(ValueError):
        await store.txn([Op.put("/pods/a", b"1"), Op.put("/pods/a", b"2")])


async def test_revisions_increase_and_track_mod_revision(store: Store) -> None:
    """Each write returns a higher revision, and get's mod_revision is that write's revision."""
    revs = [await store.put("/pods/a", f"v{i}".encode()) for i in range(4)]
    assert revs == sorted(set(revs))
    kv = await store.get("/pods/a")
    assert (kv.create_revision, kv.mod_revision) == (revs[0], revs[-1])  # type: ignore[union-attr]
    assert await store.current_revision() == revs[-1]


# -- watch ----------------------------------------------------------------------------


async def test_watch_from_revision_sees_later_changes_in_order(store: Store) -> None:
    """A watch from revision r replays every change under the prefix from r on, in order,
    including DELETE with the last value, then follows live changes."""
    r1 = await store.create("/pods/a", b"1")
    r2 = await store.update("/pods/a", b"2", r1)
    await store.create("/nodes/n1", b"not watched")
    r3 = await store.create("/pods/b", b"b")
    r4 = await store.delete("/pods/a")
    events = store.watch("/pods/", r2)
    try:
        replay = await take(events, 3)
        r5 = await store.put("/pods/c", b"c")
        live = await take(events, 1)
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    assert summary(replay + live) == [
        (EventType.PUT, "/pods/a", b"2", b"1", r2),
        (EventType.PUT, "/pods/b", b"b", None, r3),
        (EventType.DELETE, "/pods/a", b"2", b"2", r4),
        (EventType.PUT, "/pods/c", b"c", None, r5),
    ]
    assert replay[2].kv.mod_revision == r4 and replay[2].kv.create_revision == r1


async def test_watch_resumes_without_gap(store: Store) -> None:
    """Closing a watch and reopening it from the last seen revision + 1 misses and repeats
    nothing, even for changes made while no watch was open."""
    start = await store.put("/pods/a", b"0")
    first = store.watch("/pods/", start)
    seen = await take(first, 1)
    await first.aclose()  # type: ignore[attr-defined]
    revs = [await store.put(f"/pods/k{i}", b"x") for i in range(3)]
    second = store.watch("/pods/", seen[-1].revision + 1)
    try:
        seen += await take(second, 3)
    finally:
        await second.aclose()  # type: ignore[attr-defined]
    assert [e.revision for e in seen] == [start, *revs]


async def test_watchers_fast_and_slow_see_same_events(store: Store) -> None:
    """Several watchers on one prefix each get every change in order, even one that only
    starts reading after all the writes."""
    start = await store.current_revision() + 1
    fast, slow = store.watch("/pods/", start), store.watch("/pods/", start)
    try:
        reader = asyncio.create_task(take(fast, 20))
        revs = [await store.put(f"/pods/p{i % 4}", str(i).encode()) for i in range(20)]
        fast_events = await reader
        slow_events = await take(slow, 20)
    finally:
        await fast.aclose()  # type: ignore[attr-defined]
        await slow.aclose()  # type: ignore[attr-defined]
    assert [e.revision for e in fast_events] == revs
    assert summary(slow_events) == summary(fast_events)


async def test_watch_from_compacted_revision_raises(store: Store) -> None:
    """After compaction, a watch from before the compaction point raises CompactedError,
    while one from the compaction point still replays."""
    old = await store.put("/pods/a", b"1")
    await store.put("/pods/a", b"2")
    point = await store.put("/pods/a", b"3")
    await store.compact(point)
    with pytest.raises(CompactedError) as exc:
        await take(store.watch("/pods/", old), 1)
    assert exc.value.compacted == point
    events = store.watch("/pods/", point)
    try:
        (event,) = await take(events, 1)
        # prev_value is not asserted: etcd drops it once the previous version is compacted.
        assert (event.type, event.kv.value, event.revision) == (EventType.PUT, b"3", point)
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_compact_is_idempotent(store: Store) -> None:
    """Compacting again at or below the compaction point is accepted and changes nothing."""
    point = await store.put("/pods/a", b"1")
    await store.compact(point)
    await store.compact(point)
    await store.compact(point - 1)
    assert (await store.get("/pods/a")).value == b"1"  # type: ignore[union-attr]


async def test_errors_share_one_base(store: Store) -> None:
    """Every precondition error is a StoreError, so callers can catch the whole family."""
    await store.create("/pods/a", b"1")
    with pytest.raises(StoreError):
        await store.create("/pods/a", b"1")
