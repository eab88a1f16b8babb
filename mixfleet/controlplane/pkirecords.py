"""The PKI's records in the store, beside (not among) the API's objects, which only the
registry writes: bootstrap tokens (hashed) and the certificate revocation list. Written by
`mixfleet token create` and `mixfleet certs revoke` (run where the store is reachable, as
kubeadm's commands run on a control-plane host), read by the control plane::

    /pki/tokens/<id>      {"id", "secretHash", "expires", "description", "created"}
    /pki/revoked/<serial> {"serial", "subject", "notAfter", "revoked"}
"""

from __future__ import annotations

import asyncio
import datetime
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from mixfleet.api import times
from mixfleet.pki import tokens
from mixfleet.pki.certs import serial_hex
from mixfleet.store.base import AlreadyExistsError, Store, StoreError
from mixfleet.util import log

_log = log.get("pki")

TOKENS = "/pki/tokens/"
REVOKED = "/pki/revoked/"


class TokenRefusedError(Exception):
    """A join token that is unknown, expired or wrong; the message never holds the secret."""


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


async def create_token(
    store: Store, ttl: datetime.timedelta, *, description: str = "", now: datetime.datetime | None = None
) -> tuple[str, datetime.datetime]:
    """A new bootstrap token (returned once, in full) and when it expires."""
    now = now or _utcnow()
    expires = now + ttl
    while True:
        token = tokens.generate()
        token_id, secret = tokens.parse(token)
        record = {
            "id": token_id,
            "secretHash": tokens.hash_secret(secret),
            "expires": times.format_time(expires),
            "created": times.format_time(now),
            "description": description,
        }
        try:
            await store.create(TOKENS + token_id, json.dumps(record).encode())
            return token, expires
        except AlreadyExistsError:  # one id in 2 billion: draw again
            continue


async def list_tokens(store: Store) -> list[dict[str, Any]]:
    kvs, _ = await store.list(TOKENS)
    return [json.loads(kv.value) for kv in kvs]


async def delete_token(store: Store, token_id: str) -> bool:
    if await store.get(TOKENS + token_id) is None:
        return False
    await store.delete(TOKENS + token_id)
    return True


async def check_token(store: Store, token: str, *, now: datetime.datetime | None = None) -> str:
    """The token's id if it may join now; TokenRefusedError says why not."""
    try:
        token_id, secret = tokens.parse(token)
    except tokens.TokenFormatError as e:
        raise TokenRefusedError(str(e)) from None
    kv = await store.get(TOKENS + token_id)
    if kv is None:
        raise TokenRefusedError(f'bootstrap token "{token_id}" is unknown (deleted, or never made)')
    record = json.loads(kv.value)
    if not tokens.secret_matches(secret, str(record.get("secretHash", ""))):
        raise TokenRefusedError(f'bootstrap token "{token_id}": the secret does not match')
    expires = times.try_parse_time(record.get("expires"))
    if expires is None or (now or _utcnow()) >= expires:
        raise TokenRefusedError(
            f'bootstrap token "{token_id}" expired at {record.get("expires")}: make a new one '
            "with `mixfleet token create`"
        )
    return token_id


async def revoke(store: Store, cert: x509.Certificate, *, now: datetime.datetime | None = None) -> bool:
    """Put ``cert`` on the revocation list; False when it was there already."""
    serial = serial_hex(cert)
    record = {
        "serial": serial,
        "subject": cert.subject.rfc4514_string(),
        "notAfter": times.format_time(cert.not_valid_after_utc),
        "revoked": times.format_time(now or _utcnow()),
    }
    try:
        await store.create(REVOKED + serial, json.dumps(record).encode())
    except AlreadyExistsError:
        return False
    return True


async def revoke_serial(store: Store, serial: str, *, now: datetime.datetime | None = None) -> bool:
    serial = serial.lower().removeprefix("0x").replace(":", "")
    int(serial, 16)  # ValueError when not hex
    serial = format(int(serial, 16), "x")
    record = {"serial": serial, "subject": "", "notAfter": "", "revoked": times.format_time(now or _utcnow())}
    try:
        await store.create(REVOKED + serial, json.dumps(record).encode())
    except AlreadyExistsError:
        return False
    return True


@dataclass
class RevocationList:
    """The revoked serials, re-read from the store every ``refresh_seconds`` (a revocation
    takes effect on every replica within that), checked on every call without a store read.
    A store that cannot be read keeps the last list, and the failure is logged."""

    store: Store
    refresh_seconds: float = 2.0
    serials: frozenset[str] = frozenset()

    def __call__(self, serial: str) -> bool:
        return serial in self.serials

    async def load(self) -> None:
        kvs, _ = await self.store.list(REVOKED)
        fresh = frozenset(kv.key[len(REVOKED):] for kv in kvs)
        if fresh != self.serials:
            _log.info("pki.revocations_loaded", count=len(fresh))
        self.serials = fresh

    async def run(self) -> None:
        while True:
            try:
                await self.load()
            except StoreError as e:
                _log.warning("pki.revocations_unreadable", error=str(e))
            await asyncio.sleep(self.refresh_seconds)
