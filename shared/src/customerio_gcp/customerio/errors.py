"""The Customer.io clients' errors, in the runtime's one model (`customerio_gcp.errors`).

Permanent or transient follows Customer.io's documented status codes. Every message here is free
of personal data: texts that come back from Customer.io pass through `redact`, and request bodies
are never copied into an error.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from customerio_gcp.errors import Error, PermanentError, TransientError
from customerio_gcp.redaction import redact

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BatchItemError",
    "BatchItemFailure",
    "ConfigurationError",
    "ConnectionFailedError",
    "CustomerIOError",
    "ForbiddenError",
    "LimitExceededError",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "RefusedError",
    "RegionMismatchError",
    "RequestTimeoutError",
    "ServerError",
    "TransientError",
    "UnprocessableError",
    "error_from_response",
]


class CustomerIOError(Error):
    """Base of every failure the Customer.io clients raise; each subclass is also a
    `PermanentError` or a `TransientError` of the runtime's one error model."""


class BadRequestError(CustomerIOError, PermanentError):
    """400: the body or a field is invalid."""


class ConfigurationError(CustomerIOError, TransientError):
    """Our configuration is wrong, not the message: a refused key, an IP allow-list, a workspace
    that may not send, the wrong region. Transient on purpose: one bad deploy must not move the
    whole stream into dead-letter topics. Pub/Sub keeps retrying with backoff, an alert fires on
    the error class, and once the key or setting is fixed the backlog drains by itself."""


class AuthenticationError(ConfigurationError):
    """401: wrong key or IP restriction. Raised only after one credential re-fetch was tried."""


class ForbiddenError(ConfigurationError):
    """403: account not approved, or the workspace is in "do not send"."""


class NotFoundError(CustomerIOError, PermanentError):
    """404/405: a missing campaign or broadcast, or a wrong path."""


class UnprocessableError(CustomerIOError, PermanentError):
    """422: e.g. a broadcast trigger with an empty recipients filter."""


class RefusedError(CustomerIOError, PermanentError):
    """Any other 4xx Customer.io answers: the request as it is will not be taken."""


class RegionMismatchError(ConfigurationError):
    """Customer.io redirected the call to another region's host: the region setting is wrong."""


class LimitExceededError(CustomerIOError, PermanentError):
    """A documented Customer.io limit would be broken; raised before anything is sent."""

    def __init__(self, limit: str, actual: int, maximum: int, unit: str = "bytes") -> None:
        super().__init__(f"{limit} is {actual} {unit}, the limit is {maximum} {unit}")
        self.limit = limit
        self.actual = actual
        self.maximum = maximum


class BatchItemError(CustomerIOError, PermanentError):
    """One operation of a v2 batch that Customer.io refused (a 207 answer) or we refused."""

    def __init__(self, index: int, reason: str, field: str | None = None, *, status: int = 207) -> None:
        """`status`: 207 when Customer.io named the item, 400 when it refused a request that
        held this item alone (a poison item isolated by splitting)."""
        super().__init__(reason, status=status)
        self.index = index
        self.field = field


class RateLimitedError(CustomerIOError, TransientError):
    """429. `retry_after` is the server's Retry-After in seconds when it sent one."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason, status=429)
        self.retry_after = retry_after


class ServerError(CustomerIOError, TransientError):
    """5xx, including Cloudflare's 522/524."""


class RequestTimeoutError(CustomerIOError, TransientError):
    """408, or no answer within the client's timeout."""


class ConnectionFailedError(CustomerIOError, TransientError):
    """The request never reached Customer.io (DNS, refused, TLS, connect timeout)."""


_PERMANENT_BY_STATUS: dict[int, type[CustomerIOError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    405: NotFoundError,
    422: UnprocessableError,
}


def error_from_response(response: httpx.Response) -> CustomerIOError:
    """Classify a non-2xx answer. The body is parsed defensively: it is not always JSON."""
    status = response.status_code
    reason = describe_error_body(response.content) or response.reason_phrase or "no error text"
    if status == 429:
        return RateLimitedError(reason, retry_after=parse_retry_after(response.headers.get("retry-after")))
    if status == 408:
        return RequestTimeoutError(reason, status=status)
    if status >= 500:
        # A 5xx may come after Customer.io acted on the request — except 503, which a server
        # answers when it will not take the request at all (overloaded, in maintenance).
        return ServerError(reason, status=status, maybe_applied=status != 503)
    error_type = _PERMANENT_BY_STATUS.get(status, RefusedError)
    return error_type(reason, status=status)


def describe_error_body(body: bytes) -> str:
    """Pull a short, redacted message out of any of Customer.io's error body shapes.

    Track v1 answers `{"meta": {"errors": [...]}}`, the App API `{"meta": {"error": "..."}}`,
    Track v2 `{"errors": [{"reason", "field", "message"}]}`; a 401 may be plain text.
    """
    if not body:
        return ""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return redact(body.decode("utf-8", errors="replace"))
    messages: list[str] = []
    if isinstance(parsed, dict):
        meta = parsed.get("meta")
        if isinstance(meta, dict):
            if isinstance(meta.get("error"), str):
                messages.append(meta["error"])
            if isinstance(meta.get("errors"), list):
                messages.extend(_describe_item(item) for item in meta["errors"])
        if isinstance(parsed.get("errors"), list):
            messages.extend(_describe_item(item) for item in parsed["errors"])
        if not messages and isinstance(parsed.get("message"), str):
            messages.append(parsed["message"])
    if not messages:
        return redact(json.dumps(parsed)[:200])
    return redact("; ".join(m for m in messages if m))


def _describe_item(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        parts = [str(item[k]) for k in ("reason", "field", "message") if item.get(k)]
        return " ".join(parts)
    return str(item)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date. Unknown forms give None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class BatchItemFailure:
    """What Customer.io said about one refused item of a 207 answer (already redacted)."""

    index: int
    reason: str
    field: str | None
    message: str

    def as_error(self) -> BatchItemError:
        text = " ".join(p for p in (self.reason, self.field or "", self.message) if p)
        return BatchItemError(self.index, text or "rejected", self.field)
