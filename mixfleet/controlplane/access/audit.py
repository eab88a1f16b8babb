"""The audit log: one structlog line, event ``audit``, per object of every mutating call
(apply, create, update, delete), with who asked (user, groups, how they were known:
certificate, token or insecure; the connection's address),
the verb, the object (kind, namespace, name) and the outcome: ``allowed`` (done),
``denied`` (UNAUTHENTICATED or PERMISSION_DENIED: nothing was done) or ``error`` (allowed,
then failed: the gRPC code says how). Never an object's contents, so no Secret value or
token can reach it.

Where the lines go is ``--audit-log-path`` (kube-apiserver's flag): ``-`` (the default of
``mixfleet controlplane``) the process's own log, or a file of JSON lines, rotated by size
(``logging.handlers.RotatingFileHandler``), so that the node agents' heartbeats, audited
like every write, do not drown the operator's log (``mixfleet dev`` writes
``.mixfleet/audit.log``)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from mixfleet.pki.identity import Identity
from mixfleet.util import log

_log = log.get("audit")
_file = logging.getLogger("mixfleet.audit.file")
_file.propagate = False  # its lines go only to the audit file
_file.setLevel(logging.INFO)

_handler: logging.Handler | None = None  # ours (test harnesses add handlers of their own)
TO_PROCESS_LOG = "-"
MAX_BYTES = 100 * 1024 * 1024  # per file, as kube-apiserver's --audit-log-maxsize is in MB
BACKUPS = 5


def configure(path: str) -> None:
    """Send audit lines to ``path`` (``-``: the process log). The file is made 0600: it
    names users and objects."""
    close()
    if path == TO_PROCESS_LOG:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    _file.addHandler(handler)
    global _handler
    _handler = handler


def close() -> None:
    global _handler
    if _handler is not None:
        _file.removeHandler(_handler)
        _handler.close()
        _handler = None

ALLOWED = "allowed"
DENIED = "denied"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Target:
    verb: str
    kind: str
    namespace: str
    name: str
    subresource: str = ""


def record(
    identity: Identity | None,
    targets: list[Target],
    outcome: str,
    *,
    peer: str,
    code: str = "OK",
    reason: str = "",
) -> None:
    for t in targets:
        fields = dict(
            user=identity.username if identity is not None else "",
            groups=sorted(identity.groups) if identity is not None else [],
            via=identity.via if identity is not None else "none",
            peer=peer,
            verb=t.verb,
            kind=t.kind,
            namespace=t.namespace,
            name=t.name,
            subresource=t.subresource,
            outcome=outcome,
            code=code,
            **({"reason": reason} if reason else {}),
        )
        if _handler is not None:
            _file.info(json.dumps({"timestamp": datetime.now(timezone.utc).isoformat(),
                                   "event": "audit", **fields}))
        else:
            _log.info("audit", **fields)
