"""A node's certificate: joining with a bootstrap token, keeping it on disk, and rotating it
before it expires (the kubelet's certificate manager).

Files, in the node's directory under ``--cert-dir`` (keys mode 0600)::

    ca.crt  node.crt  node.key

Join (``kubeadm join --token --discovery-token-ca-cert-hash``): find the CA the control
plane presents whose public-key hash is ``--ca-hash`` (``client.discovery``), then, over TLS
verified against it, send the token and a CSR of a new key; the control plane answers with a
certificate bound to the node's name (CN ``system:node:NAME``).

Rotation: at a random point between 70% and 90% of the certificate's lifetime (the kubelet's
jittered deadline, so a fleet joined together does not renew together) a new key's CSR goes
to ``Bootstrap/Renew`` over the current certificate; the new pair is written (to a
temporary file, then renamed) and handed to the running client and the agent's server
(``on_rotated``). The calls under way finish on the old connection, so no heartbeat is lost.
A failed renewal is retried with backoff until the certificate expires, and after.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
from pathlib import Path
from typing import Callable

from cryptography.x509 import Certificate

from mixfleet.client.client import join, renew
from mixfleet.client.discovery import discover_ca
from mixfleet.pki.certs import NODE_PREFIX, key_pem, load_cert, make_csr, new_key, serial_hex
from mixfleet.pki.material import TLSMaterial
from mixfleet.util import log

_log = log.get("certmanager")

CA_FILE, CERT_FILE, KEY_FILE = "ca.crt", "node.crt", "node.key"
ROTATE_AT = (0.7, 0.9)  # share of the lifetime, like the kubelet's certificate manager
_RETRY_SECONDS = (1.0, 30.0)  # backoff between failed renewals: first, most


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def rotation_deadline(cert: Certificate, rng: random.Random | None = None) -> datetime.datetime:
    """When to renew: 70-90% of the way through the certificate's validity, at random."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    share = (rng or random).uniform(*ROTATE_AT)
    return start + (end - start) * share


class NodeCredentials:
    """The key and certificate of node ``node_name``, kept in ``directory``."""

    def __init__(self, directory: Path, node_name: str) -> None:
        self.directory = directory
        self.node_name = node_name
        self.current: TLSMaterial | None = None
        self.rotations = 0  # certificates renewed since start (tests, metrics)
        self._listeners: list[Callable[[TLSMaterial], None]] = []

    def on_rotated(self, listener: Callable[[TLSMaterial], None]) -> None:
        self._listeners.append(listener)

    @property
    def certificate(self) -> Certificate | None:
        return load_cert(self.current.cert) if self.current and self.current.cert else None

    def expired(self) -> bool:
        cert = self.certificate
        return cert is None or _utcnow() >= cert.not_valid_after_utc

    def load(self) -> TLSMaterial | None:
        """The pair on disk, if there is one for this node's name."""
        paths = [self.directory / n for n in (CA_FILE, CERT_FILE, KEY_FILE)]
        if not all(p.is_file() for p in paths):
            return None
        material = TLSMaterial.from_files(*paths)
        assert material.cert is not None
        cn = load_cert(material.cert).subject.rfc4514_string()
        if f"CN={NODE_PREFIX}{self.node_name}" not in cn:
            raise ValueError(f"{paths[1]} is not node {self.node_name}'s certificate ({cn})")
        self.current = material
        return material

    def _save(self, ca: bytes, cert: bytes, key: bytes) -> TLSMaterial:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomically(self.directory / KEY_FILE, key, 0o600)
        _write_atomically(self.directory / CERT_FILE, cert, 0o644)
        _write_atomically(self.directory / CA_FILE, ca, 0o644)
        self.current = TLSMaterial(ca=ca, cert=cert, key=key)
        return self.current

    async def join(self, bootstrap_target: str, *, token: str, ca_hash: str) -> TLSMaterial:
        """Discover the CA by its hash, join with the token, keep the certificate."""
        ca = await discover_ca(bootstrap_target, ca_hash)
        key = new_key()
        cert, ca_back = await join(
            bootstrap_target, TLSMaterial(ca=ca), token=token, node_name=self.node_name,
            csr=make_csr(key, NODE_PREFIX + self.node_name),
        )
        material = self._save(ca_back or ca, cert, key_pem(key))
        _log.info("node.joined", node=self.node_name, serial=serial_hex(load_cert(cert)))
        return material

    async def renew_once(self, target: str) -> TLSMaterial:
        assert self.current is not None
        key = new_key()
        cert, ca = await renew(target, self.current, csr=make_csr(key, NODE_PREFIX + self.node_name))
        old = self.certificate
        material = self._save(ca or self.current.ca, cert, key_pem(key))
        self.rotations += 1
        new = load_cert(cert)
        _log.info("node.certificate_rotated", node=self.node_name,
                  old_serial=serial_hex(old) if old else "", serial=serial_hex(new),
                  not_after=new.not_valid_after_utc.isoformat())
        for listener in self._listeners:
            listener(material)
        return material

    async def rotate_forever(self, target: str, *, now: Callable[[], datetime.datetime] = _utcnow) -> None:
        """Renew at each certificate's deadline, until cancelled."""
        from mixfleet.client import APIError

        retry = _RETRY_SECONDS[0]
        deadline: tuple[int, datetime.datetime] | None = None  # (serial, when): one draw per certificate
        while True:
            cert = self.certificate
            assert cert is not None
            if deadline is None or deadline[0] != cert.serial_number:
                deadline = (cert.serial_number, rotation_deadline(cert))
            await asyncio.sleep(max((deadline[1] - now()).total_seconds(), 0.0))
            try:
                await self.renew_once(target)
                retry = _RETRY_SECONDS[0]
            except APIError as e:
                expired = now() >= cert.not_valid_after_utc
                _log.warning("node.certificate_renew_failed", node=self.node_name, error=str(e),
                             expired=expired, retry_in=retry)
                await asyncio.sleep(retry)
                retry = min(retry * 2, _RETRY_SECONDS[1])
