"""The store interface: a revisioned key-value store with compare-and-swap and watch.

Two implementations share these semantics (one contract suite checks both):
``store.embedded.EmbeddedStore`` (SQLite on local disk, the `mixfleet dev` default) and
``store.etcd.EtcdStore`` (etcd through aetcd, for production).

Semantics, modelled on etcd v3:
- Every write bumps one store-wide ``revision`` (an int, starting at 1 for the first write).
  A key's ``mod_revision`` is the revision of its last write; ``create_revision`` that of its
  creation. ``mod_revision`` is what the API exposes as ``metadata.resourceVersion``.
- ``txn`` applies a batch of operations all-or-nothing, with one new revision for the batch.
- ``watch(prefix, start_revision)`` yields every change with revision >= start_revision, in
  order. If ``start_revision`` was compacted away it raises ``CompactedError`` (the caller
  re-lists, like a Kubernetes informer on 410 Gone).

Exception tree (library errors are translated in the adapters and chained with ``from``)::

    StoreError
    ├── NotFoundError          key absent (get_required, update, delete with precondition)
    ├── AlreadyExistsError     create of a key that exists
    ├── ConflictError          compare-and-swap lost: the key changed since it was read
    ├── CompactedError         watch/list from a revision older than the compaction point
    ├── StoreFullError         no space left for a write (reads and deletes still work)
    ├── StoreCorruptError      the embedded database failed its integrity check (permanent)
    └── UnavailableError       the backend cannot be reached (temporary; retried in adapters)
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import AsyncGenerator, Sequence


class StoreError(Exception):
    """Base of every store error."""


class NotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class AlreadyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class ConflictError(StoreError):
    def __init__(self, key: str, expected: int, actual: int | None) -> None:
        super().__init__(
            f"key {key!r} was modified: expected mod_revision {expected}, found {actual}"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


class CompactedError(StoreError):
    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"revision {requested} is too old: compacted up to revision {compacted}"
        )
        self.requested = requested
        self.compacted = compacted


class StoreFullError(StoreError):
    """A write was refused because the store's disk is full (etcd's NOSPACE alarm): reads
    and deletes keep working so that space can be reclaimed. Not temporary in the sense
    of a retry helping: someone has to delete something or grow the disk."""


class StoreCorruptError(StoreError):
    """The database file fails its integrity check; the message names the file and the
    way back (``mixfleet snapshot restore``). Never retried."""


class UnavailableError(StoreError):
    """The backend could not be reached (after the adapter's own retries)."""


class StoreClosedError(UnavailableError):
    """The store was closed (its process is shutting down): a loop that retries on
    UnavailableError should end instead."""


@dataclass(frozen=True, slots=True)
class KV:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    kv: KV  # for DELETE: value is the last value before deletion, mod_revision the delete's
    prev_value: bytes | None
    revision: int


class OpKind(enum.Enum):
    CREATE = "create"  # fails with AlreadyExistsError if the key exists
    UPDATE = "update"  # CAS: fails with ConflictError unless mod_revision matches
    PUT = "put"  # unconditional write
    DELETE = "delete"  # CAS when expected_mod_revision is set, else unconditional


@dataclass(frozen=True, slots=True)
class Op:
    kind: OpKind
    key: str
    value: bytes = b""
    expected_mod_revision: int | None = None

    @staticmethod
    def create(key: str, value: bytes) -> "Op":
        return Op(OpKind.CREATE, key, value)

    @staticmethod
    def update(key: str, value: bytes, expected_mod_revision: int) -> "Op":
        return Op(OpKind.UPDATE, key, value, expected_mod_revision)

    @staticmethod
    def put(key: str, value: bytes) -> "Op":
        return Op(OpKind.PUT, key, value)

    @staticmethod
    def delete(key: str, expected_mod_revision: int | None = None) -> "Op":
        return Op(OpKind.DELETE, key, b"", expected_mod_revision)


class Store(abc.ABC):
    """Async revisioned KV store. Keys are str, values bytes. All methods may raise
    UnavailableError when the backend is down."""

    @abc.abstractmethod
    async def get(self, key: str) -> KV | None: ...

    @abc.abstractmethod
    async def list(self, prefix: str) -> tuple[list[KV], int]:
        """All keys under prefix, sorted by key, and the store revision they were read at."""

    @abc.abstractmethod
    async def txn(self, ops: Sequence[Op]) -> int:
        """Apply ops atomically; returns the new revision. On any failed precondition nothing
        is written and the first failing op's error (AlreadyExists/Conflict/NotFound) raises.
        A DELETE of an absent key with no precondition is a no-op; with one it is NotFound."""

    async def create(self, key: str, value: bytes) -> int:
        return await self.txn([Op.create(key, value)])

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        return await self.txn([Op.update(key, value, expected_mod_revision)])

    async def put(self, key: str, value: bytes) -> int:
        return await self.txn([Op.put(key, value)])

    async def delete(self, key: str, expected_mod_revision: int | None = None) -> int:
        return await self.txn([Op.delete(key, expected_mod_revision)])

    @abc.abstractmethod
    def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[WatchEvent, None]:
        """Changes under prefix with revision >= start_revision, in revision order, until the
        iterator is closed. Raises CompactedError if start_revision was compacted."""

    @abc.abstractmethod
    async def current_revision(self) -> int: ...

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history older than revision (watches from before it raise CompactedError)."""

    @abc.abstractmethod
    async def close(self) -> None: ...
