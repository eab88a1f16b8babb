"""What mixctl tells the user when something fails: one line, no traceback.

Exception tree::

    CLIError                 a message printed verbatim on stderr, exit 1
    └── ConfigError          the config file is unreadable or names an unknown context

Control-plane errors (``controlplane.client.APIError``) are turned into kubectl-like lines by
``api_error_message`` in one place; main() catches everything else at the top.
"""

from __future__ import annotations

import re

from mixfleet import client as cp

# kubectl's reason words for each client error, so scripts that grep kubectl output work.
_REASONS: dict[type[cp.APIError], str] = {
    cp.InvalidError: "Invalid",
    cp.NotFoundError: "NotFound",
    cp.AlreadyExistsError: "AlreadyExists",
    cp.ConflictError: "Conflict",
    cp.GoneError: "Expired",
    cp.TooLargeError: "RequestEntityTooLarge",
    cp.ResourceExhaustedError: "ResourceExhausted",
    cp.OutcomeUnknownError: "Timeout",
    cp.UnauthenticatedError: "Unauthorized",
    cp.PermissionDeniedError: "Forbidden",
}

_HINT = "(is 'mixfleet dev' running?)"


class CLIError(Exception):
    """A failure to report as one line (already worded for the user)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CLIError):
    pass


def unreachable_message(server: str, detail: str) -> str:
    """``error: cannot reach the control plane at ADDR: connection refused (hint)``."""
    return f"error: cannot reach the control plane at {server}: {_short_reason(detail)} {_HINT}"


def _short_reason(detail: str) -> str:
    # gRPC's text is long ("failed to connect to all addresses; last error: UNKNOWN: ipv4:...:
    # Failed to connect to remote host: Connection refused"); keep the part a user acts on.
    low = detail.lower()
    for needle, short in (
        ("connection refused", "connection refused"),
        ("deadline exceeded", "timed out"),
        ("timeout", "timed out"),
        ("dns resolution failed", "cannot resolve the address"),
        ("name resolution", "cannot resolve the address"),
        ("no route to host", "no route to host"),
        ("connection reset", "connection reset"),
    ):
        if needle in low:
            return short
    return re.sub(r"^cannot reach the control plane at \S+: ", "", detail)


def api_error_message(err: cp.APIError, *, server: str) -> str:
    if isinstance(err, cp.UnavailableError):
        return unreachable_message(server, err.message)
    reason = _REASONS.get(type(err))
    # Codes the client has no class for (FAILED_PRECONDITION, INTERNAL...) keep the server's words.
    return f"Error from server ({reason}): {err.message}" if reason else f"Error from server: {err.message}"


def not_found_message(resource: str, name: str) -> str:
    """kubectl's wording: ``Error from server (NotFound): pods "x" not found``."""
    return f'Error from server (NotFound): {resource} "{name}" not found'
