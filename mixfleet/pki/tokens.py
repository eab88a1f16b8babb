"""Bootstrap tokens, in kubeadm's format ``[a-z0-9]{6}.[a-z0-9]{16}``: the id before the dot
is public (it names the token in the store and in logs), the secret after it is never
stored or logged, only its SHA-256 (the secret's 82 random bits make a salt pointless)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


class TokenFormatError(ValueError):
    pass


def generate() -> str:
    pick = secrets.choice
    return "".join(pick(_ALPHABET) for _ in range(6)) + "." + "".join(pick(_ALPHABET) for _ in range(16))


def parse(token: str) -> tuple[str, str]:
    """(id, secret); TokenFormatError (which never repeats the token) when malformed."""
    m = _TOKEN.match(token.strip())
    if m is None:
        raise TokenFormatError(
            "a bootstrap token looks like abcdef.0123456789abcdef (6 and 16 characters a-z, 0-9)"
        )
    return m.group(1), m.group(2)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
