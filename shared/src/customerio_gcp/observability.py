"""Structured logs in Cloud Logging's JSON format, and an operation timer that emits metrics.

Cloud Functions forward one JSON object per stdout line to Cloud Logging, where `severity` and
`message` are understood and every other key lands in `jsonPayload`. Terraform's log-based
metrics read the operation lines (`metric="operation"`): latency as a distribution, counts by
outcome and error class. Correlation fields (the Pub/Sub message id, the function) are kept in a
context variable so every line of one delivery carries them without being passed around.

Only values safe to keep go into a line: operation names, ids we generate, error classes and
redacted reasons. Never attributes, emails or message bodies.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from customerio_gcp.errors import classify

LOGGER_NAME = "customerio_gcp"
logger = logging.getLogger(LOGGER_NAME)

_NO_CORRELATION: Mapping[str, str] = MappingProxyType({})
_correlation: ContextVar[Mapping[str, str]] = ContextVar("customerio_gcp_correlation", default=_NO_CORRELATION)

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


@contextmanager
def correlation_scope(**fields: str | None) -> Iterator[None]:
    """Attach fields (message_id, subscription, function…) to every line logged inside."""
    merged = {**_correlation.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _correlation.set(merged)
    try:
        yield
    finally:
        _correlation.reset(token)


def current_correlation() -> Mapping[str, str]:
    return _correlation.get()


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object per record, with Cloud Logging's special keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(getattr(record, "correlation", {}))
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception texts from libraries may carry request data.
            entry["exception_type"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Send this package's logs to stdout as Cloud Logging JSON. Safe to call more than once."""
    for handler in list(logger.handlers):
        if getattr(handler, "_customerio_gcp", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    handler._customerio_gcp = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log(level: int, message: str, **fields: Any) -> None:
    """Log `message` with structured `fields` and the current correlation."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields, "correlation": dict(_correlation.get())})


@dataclass
class Operation:
    """Handed to the body of `timed`: lets it set the outcome and add safe fields."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    outcome: str = "success"


@contextmanager
def timed(operation: str, **fields: Any) -> Iterator[Operation]:
    """Time an operation and emit one metric line: latency, outcome and error class.

    An exception is classified (`errors.classify`) and re-raised; the line carries the
    exception's class name, never its text.
    """
    op = Operation(operation, dict(fields))
    started = time.perf_counter()
    error_class: str | None = None
    try:
        yield op
    except BaseException as exc:
        verdict = classify(exc)
        error_class = verdict.error_class
        op.outcome = "transient_error" if verdict.retry else "permanent_error"
        raise
    finally:
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        level = logging.INFO if error_class is None else logging.WARNING
        log(
            level,
            f"{operation} {op.outcome}",
            metric="operation",
            operation=operation,
            latency_ms=latency_ms,
            outcome=op.outcome,
            error_class=error_class,
            **op.fields,
        )
