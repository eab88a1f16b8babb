"""Limits on what one request or one object may hold, so that no single user's input can
exhaust the control plane's memory or the store (each overridable by a control-plane flag).
"""

from __future__ import annotations

# etcd refuses requests above 1.5 MiB (--max-request-bytes), and the Kubernetes API server
# holds objects to that size for the same reason: every version of an object is kept in the
# watch cache and the store's history, so a 50 MB object costs gigabytes. Measured on the
# encoded object as stored.
MAX_OBJECT_BYTES = 1536 * 1024


def mebibytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


# Manifests (mixctl apply and the server's decoding): a YAML alias bomb is a few hundred bytes
# that stand for billions of values (each alias repeats a whole subtree), and walking it froze
# mixctl for minutes and took gigabytes; a document nested thousands deep breaks every
# recursive reader after it (printing it as YAML, for one). Kubernetes objects nest about 15
# deep and a large List holds a few hundred thousand values.
MAX_NESTING_DEPTH = 100
MAX_DOCUMENT_VALUES = 1_000_000  # counted with every alias expanded
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
