"""Bearer tokens: made by ``mixfleet user create``, kept in the store only as their SHA-256,
looked up by the control plane for ``authorization: Bearer ...`` request metadata.

A token is 32 random bytes (``secrets.token_urlsafe``), so a fast hash is the right one
(as for Kubernetes' bootstrap tokens and GitHub's): there is nothing to brute-force, and the
store's bytes never hold a usable credential. The record is JSON under
``/mixfleet/tokens/<sha256>``: the user, groups, when made, when it expires (optional). It
is outside ``/registry/``, so no API call can read, list or write it.

The control plane caches a lookup for ``CACHE_SECONDS``: ``mixfleet user delete`` takes
effect within that long on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from mixfleet.api import rbac, times
from mixfleet.pki.identity import AUTHENTICATED_GROUP, Identity
from mixfleet.store.base import Op, Store

PREFIX = "/mixfleet/tokens/"
TOKEN_PREFIX = "mixfleet_"
CACHE_SECONDS = 10.0
_CACHE_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class TokenRecord:
    user: str
    groups: tuple[str, ...]
    created: str
    expires: float | None = None  # epoch seconds

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _encode(record: TokenRecord) -> bytes:
    return json.dumps({"user": record.user, "groups": list(record.groups), "created": record.created,
                       "expires": record.expires}).encode()


def _decode(value: bytes) -> TokenRecord:
    d = json.loads(value)
    return TokenRecord(str(d["user"]), tuple(str(g) for g in d.get("groups") or ()),
                       str(d.get("created") or ""), d.get("expires"))


async def create(store: Store, user: str, groups: tuple[str, ...], *, ttl: float | None = None) -> str:
    """A new token for ``user`` (the only time it is seen in clear)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(user, groups, times.now(),
                         None if ttl is None else time.time() + ttl)
    await store.txn([Op.create(PREFIX + digest(token), _encode(record))])
    return token


async def records(store: Store) -> list[tuple[str, TokenRecord]]:
    """(digest, record) of every token."""
    kvs, _ = await store.list(PREFIX)
    return [(kv.key.removeprefix(PREFIX), _decode(kv.value)) for kv in kvs]


async def delete_user(store: Store, user: str) -> int:
    """Revoke every token of ``user``; how many there were."""
    gone = [d for d, r in await records(store) if r.user == user]
    if gone:
        await store.txn([Op.delete(PREFIX + d) for d in gone])
    return len(gone)


def identity_of(record: TokenRecord) -> Identity:
    """The caller a token makes: a user, or node N for ``system:node:N`` in ``system:nodes``
    (as Kubernetes' node authorizer recognises any such identity)."""
    groups = (*record.groups, AUTHENTICATED_GROUP)
    node = rbac.node_name(record.user) if rbac.SYSTEM_NODES in record.groups else None
    if node is not None:
        return Identity("node", node, groups, via="token")
    return Identity("user", record.user, groups, via="token")


class TokenAuthenticator:
    """Token -> record, through a short cache so a busy agent is not one store read per call.
    ``identify`` is the hook ``controlplane.authn.Authenticator(bearer=...)`` calls."""

    def __init__(self, store: Store, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenRecord]] = {}  # known tokens only

    async def lookup(self, token: str) -> TokenRecord | None:
        """The token's record, or None if it is unknown or expired."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        key = digest(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        record: TokenRecord | None
        if hit is not None and now - hit[0] < self.cache_seconds:
            record = hit[1]
        else:
            kv = await self.store.get(PREFIX + key)
            # The key is the digest, so equal keys mean equal digests; compare anyway in
            # constant time, should a store ever answer a near key.
            record = _decode(kv.value) if kv is not None and hmac.compare_digest(
                kv.key, PREFIX + key) else None
            if record is not None:
                if len(self._cache) >= _CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[key] = (now, record)
        if record is None or record.expired(time.time()):
            return None
        return record

    async def identify(self, token: str) -> Identity | None:
        record = await self.lookup(token)
        return None if record is None else identity_of(record)
