"""Structured logging for every Mixfleet process: JSON lines in production, a readable
console in dev. Event names are fixed strings (``pod.bound``, ``store.retry``); context goes
in key-value pairs, never formatted into the event name."""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure(*, json: bool | None = None, level: str | None = None) -> None:
    """Configure structlog once per process. ``json`` defaults to True unless stderr is a TTY
    or MIXFLEET_LOG_FORMAT=console; MIXFLEET_LOG_LEVEL sets the level (default info)."""
    fmt = os.environ.get("MIXFLEET_LOG_FORMAT")
    if json is None:
        json = fmt == "json" or (fmt != "console" and not sys.stderr.isatty())
    lvl = getattr(logging, (level or os.environ.get("MIXFLEET_LOG_LEVEL", "info")).upper())
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(component=name)
    return logger
