"""Secrets encrypted at rest: a Store that seals the values under chosen key prefixes with
AES-256-GCM before they reach SQLite or etcd, and opens them on every read and watch.

Like Kubernetes' ``aesgcm`` encryption provider: a value is stored as

    mixfleet:enc:aesgcm:v1:<key name>:<12-byte random nonce><ciphertext and 16-byte tag>

with the store key as authenticated data, so a sealed value copied under another key does
not open. Keys come from a file (``KeyRing.load``, made by ``mixfleet encryption-key new``):
the first key seals, every key opens, so a rotation is: add a new key first (every
control-plane replica's file), restart, and the leader re-seals every value that is not
under the first key (``reseal``), after which the old key can go. A value written before
encryption was turned on is read as it is and re-sealed the same way.

Everything above the store (registry, watch cache, API) sees plaintext; everything below it
(the database file, etcd, snapshots, backups) only ciphertext. Key material never appears
in logs or errors: only key names do.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncGenerator, Sequence

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mixfleet.store.base import KV, ConflictError, NotFoundError, Op, Store, StoreCorruptError, WatchEvent
from mixfleet.util import log

_log = log.get("store.encrypted")

MAGIC = b"mixfleet:enc:aesgcm:v1:"
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256


class KeyFileError(ValueError):
    """The key file is missing, unreadable or malformed; the message names the file."""


@dataclass(frozen=True)
class Key:
    name: str
    aead: AESGCM

    def __repr__(self) -> str:  # never the key material
        return f"Key({self.name!r})"


class KeyRing:
    """The keys of one key file: ``primary`` seals, all open."""

    def __init__(self, keys: Sequence[Key]) -> None:
        if not keys:
            raise KeyFileError("no keys")
        self.keys = {k.name: k for k in keys}
        self.primary = keys[0]

    @staticmethod
    def load(path: str | Path) -> "KeyRing":
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as e:
            raise KeyFileError(f"encryption key file {path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise KeyFileError(f"encryption key file {path}: not YAML: {e}") from None
        entries = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(entries, list) or not entries:
            raise KeyFileError(f"encryption key file {path}: needs 'keys:', a list of {{name, secret}}")
        keys: list[Key] = []
        for i, entry in enumerate(entries):
            where = f"encryption key file {path}: keys[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
                raise KeyFileError(f"{where}: needs a name")
            name = entry["name"]
            if ":" in name or len(name) > 64:
                raise KeyFileError(f"{where}: name {name!r} must be at most 64 characters, without ':'")
            try:
                raw = base64.b64decode(str(entry.get("secret", "")), validate=True)
            except ValueError:
                raise KeyFileError(f"{where} ({name}): secret is not base64") from None
            if len(raw) != KEY_BYTES:
                raise KeyFileError(f"{where} ({name}): secret must be {KEY_BYTES} bytes (AES-256), "
                                   f"base64-encoded; it is {len(raw)}")
            if any(k.name == name for k in keys):
                raise KeyFileError(f"{where}: key name {name!r} is used twice")
            keys.append(Key(name, AESGCM(raw)))
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            _log.warning("encryption.key_file_open_to_others", path=str(path),
                         hint=f"chmod 600 {path}")
        return KeyRing(keys)

    def seal(self, key: str, value: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.primary.aead.encrypt(nonce, value, key.encode())
        return MAGIC + self.primary.name.encode() + b":" + nonce + sealed

    def open(self, key: str, value: bytes) -> bytes:
        if not value.startswith(MAGIC):
            return value  # written before encryption was turned on
        name, sep, rest = value[len(MAGIC):].partition(b":")
        k = self.keys.get(name.decode(errors="replace"))
        if not sep or k is None:
            raise StoreCorruptError(
                f"{key} is encrypted with key {name.decode(errors='replace')!r}, which is not in "
                f"the encryption key file (keys: {', '.join(self.keys)}); add it back to read it")
        try:
            return k.aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], key.encode())
        except InvalidTag:
            raise StoreCorruptError(f"{key}: its sealed value does not open with key {k.name!r} "
                                    "(damaged, or moved from another key)") from None

    def is_current(self, value: bytes) -> bool:
        """Sealed under the primary key (nothing to re-seal)."""
        return value.startswith(MAGIC + self.primary.name.encode() + b":")


def new_key_file(path: str | Path, name: str) -> None:
    """Write a fresh random key first in ``path`` (made with mode 0600 if new); the keys
    already there stay, after it, to open what they sealed."""
    path = Path(path)
    entries: list[dict[str, Any]] = []
    if path.exists():
        KeyRing.load(path)  # refuse to extend a broken file
        entries = yaml.safe_load(path.read_text())["keys"]
        if any(e["name"] == name for e in entries):
            raise KeyFileError(f"encryption key file {path}: a key named {name!r} exists")
    entries.insert(0, {"name": name, "secret": base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()})
    text = ("# Mixfleet encryption keys for Secrets at rest: the first seals, every one opens.\n"
            + yaml.safe_dump({"keys": entries}, sort_keys=False))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


class EncryptedStore(Store):
    """``inner`` with the values under ``prefixes`` sealed by ``keys``."""

    def __init__(self, inner: Store, keys: KeyRing, prefixes: Sequence[str]) -> None:
        self.inner = inner
        self.keys = keys
        self.prefixes = tuple(prefixes)

    def _sealed(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    def _open_kv(self, kv: KV) -> KV:
        if not self._sealed(kv.key) or not kv.value:
            return kv
        return KV(kv.key, self.keys.open(kv.key, kv.value), kv.create_revision, kv.mod_revision)

    def _seal_op(self, op: Op) -> Op:
        if not self._sealed(op.key) or not op.value:
            return op
        return Op(op.kind, op.key, self.keys.seal(op.key, op.value), op.expected_mod_revision)

    async def get(self, key: str) -> KV | None:
        kv = await self.inner.get(key)
        return None if kv is None else self._open_kv(kv)

    async def list(self, prefix: str) -> tuple[list[KV], int]:
        kvs, rev = await self.inner.list(prefix)
        return [self._open_kv(kv) for kv in kvs], rev

    async def txn(self, ops: Sequence[Op]) -> int:
        return await self.inner.txn([self._seal_op(op) for op in ops])

    async def watch(self, prefix: str, start_revision: int) -> AsyncGenerator[WatchEvent, None]:
        events = self.inner.watch(prefix, start_revision)
        try:
            async for ev in events:
                if self._sealed(ev.kv.key):
                    prev = ev.prev_value and self.keys.open(ev.kv.key, ev.prev_value)
                    ev = WatchEvent(ev.type, self._open_kv(ev.kv), prev, ev.revision)
                yield ev
        finally:
            await events.aclose()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()

    async def reseal(self) -> int:
        """Re-seal every value under the prefixes that the primary key did not seal (an
        older key's, or plaintext from before encryption); returns how many. Each is a CAS
        on the revision read, so a concurrent write simply wins (it was sealed anew)."""
        done = 0
        for prefix in self.prefixes:
            kvs, _ = await self.inner.list(prefix)
            for kv in kvs:
                if not kv.value or self.keys.is_current(kv.value):
                    continue
                plain = self.keys.open(kv.key, kv.value)
                try:
                    await self.txn([Op.update(kv.key, plain, kv.mod_revision)])
                except (ConflictError, NotFoundError):
                    continue
                done += 1
        if done:
            _log.info("encryption.resealed", values=done, key=self.keys.primary.name)
        return done
