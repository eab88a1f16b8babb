"""TLS material read from files: a CA bundle to verify peers with, and optionally a
certificate and key to present. Each adapter (client, control plane, node agent, the etcd
store) turns it into its transport's credentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class TLSFileError(ValueError):
    """A TLS file that cannot be read; names the file and the flag."""


def read_pem(path: str | Path, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise TLSFileError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if b"-----BEGIN" not in data:
        raise TLSFileError(f"{what} {path} is not PEM")
    return data


@dataclass(frozen=True)
class TLSMaterial:
    """``ca``: PEM certificates trusted for the peer; ``cert``/``key``: ours, or None.
    ``server_name``: the name the peer's certificate must carry, when it is not the host
    dialled (a node agent dialled by IP proves it is node NAME)."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str = ""

    @classmethod
    def from_files(
        cls, ca: str | Path, cert: str | Path | None = None, key: str | Path | None = None
    ) -> "TLSMaterial":
        if (cert is None) != (key is None):
            raise TLSFileError("a client certificate needs its key, and a key its certificate")
        return cls(
            ca=read_pem(ca, "CA file"),
            cert=read_pem(cert, "certificate file") if cert is not None else None,
            key=read_pem(key, "key file") if key is not None else None,
        )
