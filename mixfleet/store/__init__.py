"""The revisioned key-value store behind the control plane.

``open_store(url)`` picks the implementation from a URL:

- ``sqlite:///abs/path.db``, ``sqlite://relative.db``, or a plain path ending in ``.db``:
  EmbeddedStore (``sqlite://:memory:`` for a throwaway in-memory store);
- ``etcd://host1:2379,host2:2379/prefix``: EtcdStore (prefix defaults to /mixfleet).
"""

from __future__ import annotations

from mixfleet.pki.material import TLSMaterial

from mixfleet.store.base import (
    KV,
    AlreadyExistsError,
    CompactedError,
    ConflictError,
    EventType,
    NotFoundError,
    Op,
    OpKind,
    Store,
    StoreError,
    UnavailableError,
    WatchEvent,
)

__all__ = [
    "KV",
    "AlreadyExistsError",
    "CompactedError",
    "ConflictError",
    "EventType",
    "NotFoundError",
    "Op",
    "OpKind",
    "Store",
    "StoreError",
    "UnavailableError",
    "WatchEvent",
    "open_store",
]

_USAGE = (
    "expected sqlite:///abs/path.db, sqlite://relative.db, a path ending in .db, "
    "or etcd://host:port[,host:port...][/prefix]"
)


def open_store(url: str, *, etcd_tls: TLSMaterial | None = None) -> Store:
    """A Store for ``url`` (see the module docstring); ValueError says what is wrong.
    ``etcd_tls``: TLS to etcd (its CA, our client certificate and key)."""
    # Imported here so that using one backend never imports the other's dependencies.
    if url.startswith("sqlite://"):
        from mixfleet.store.embedded import EmbeddedStore

        path = url[len("sqlite://") :]
        if not path or path == "/":
            raise ValueError(f"store URL {url!r} has no database path; {_USAGE}")
        return EmbeddedStore(path)
    if url.startswith("etcd://"):
        from mixfleet.store.etcd import DEFAULT_PREFIX, EtcdStore, parse_endpoint

        hosts, _, prefix = url[len("etcd://") :].partition("/")
        endpoints = [h for h in hosts.split(",") if h]
        if not endpoints:
            raise ValueError(f"store URL {url!r} names no etcd endpoint; {_USAGE}")
        for e in endpoints:
            parse_endpoint(e)  # raises ValueError naming the bad endpoint
        return EtcdStore(
            endpoints, prefix=f"/{prefix.strip('/')}" if prefix else DEFAULT_PREFIX, tls=etcd_tls
        )
    if "://" not in url and url.endswith(".db"):
        from mixfleet.store.embedded import EmbeddedStore

        return EmbeddedStore(url)
    raise ValueError(f"unsupported store URL {url!r}; {_USAGE}")
