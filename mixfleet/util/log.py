"""Structured logging for every Mixfleet process: JSON lines in production, a readable
console in dev. Event names are fixed strings (``pod.bound``, ``store.retry``); context goes
in key-value pairs, never formatted into the event name."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog


class _DegradingLogger(structlog.PrintLogger):
    """A PrintLogger that a full disk cannot break: a line that cannot be written (ENOSPC on
    a redirected stderr, a closed pipe) is dropped, not raised. A raising log call used to
    fail whatever was logging: an API call answered "Unexpected OSError" after its write had
    committed, and a loop that logged died. The next line that can be written is preceded
    by one saying how many were lost."""

    dropped = 0  # across all loggers of the process: they share one stream

    def msg(self, message: str) -> None:
        try:
            if _DegradingLogger.dropped:
                lost, _DegradingLogger.dropped = _DegradingLogger.dropped, 0
                try:
                    super().msg(f'{{"event": "log.lines_dropped", "level": "warning", "count": {lost}}}')
                except BaseException:
                    _DegradingLogger.dropped += lost
                    raise
            super().msg(message)
        except (OSError, ValueError):  # ValueError: the stream was closed
            _DegradingLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _DegradingLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _DegradingLogger:
        return _DegradingLogger(self._file)


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
        logger_factory=_DegradingLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(component=name)
    return logger
