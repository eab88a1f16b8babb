"""The gRPC client library of the control-plane API, used by mixctl, the node agents and
the tests: one place that speaks the wire protocol and turns gRPC codes into exceptions."""

from mixfleet.client.client import (
    AccessReview,
    AlreadyExistsError,
    APIError,
    Client,
    ConflictError,
    ExecInput,
    ExecOutput,
    GoneError,
    InvalidError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    TooLargeError,
    UnauthenticatedError,
    ResourceExhaustedError,
    UnavailableError,
)

__all__ = [
    "AccessReview",
    "APIError",
    "AlreadyExistsError",
    "Client",
    "ConflictError",
    "ExecInput",
    "ExecOutput",
    "GoneError",
    "InvalidError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "TooLargeError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "UnavailableError",
]
