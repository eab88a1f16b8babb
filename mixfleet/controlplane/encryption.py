"""Secrets at rest: the control plane's encrypted store, and the leader's re-sealing after a
key rotation (store/encrypted.py says how values are sealed)."""

from __future__ import annotations

import asyncio

from mixfleet.api import kinds
from mixfleet.store.base import Store, StoreError
from mixfleet.store.encrypted import EncryptedStore, KeyRing
from mixfleet.util import log

_log = log.get("encryption")

RESEAL_RETRY_SECONDS = 5.0
# What is sealed: Secrets, and nothing else (ConfigMaps are not secret, by definition).
SEALED_KINDS = ("Secret",)


def encrypted(store: Store, key_file: str) -> EncryptedStore:
    """``store`` with Secrets sealed by the keys in ``key_file`` (KeyFileError names it)."""
    keys = KeyRing.load(key_file)
    _log.info("encryption.enabled", key=keys.primary.name, keys=len(keys.keys), kinds=list(SEALED_KINDS))
    return EncryptedStore(store, keys, [kinds.by_kind(k).prefix() for k in SEALED_KINDS])


async def reseal_once(store: EncryptedStore) -> None:
    """A leader loop: re-seal what the first key did not seal (after a rotation, or values
    from before encryption was on), retrying while the store is away; then idle, since a
    leader loop that ends would end the leadership."""
    while True:
        try:
            await store.reseal()
            break
        except StoreError as e:
            _log.warning("encryption.reseal_failed", error=str(e))
            await asyncio.sleep(RESEAL_RETRY_SECONDS)
    await asyncio.Event().wait()
