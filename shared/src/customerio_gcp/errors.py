"""The one error model of the runtime: what failed, whether to retry, whether it may have happened.

Every layer raises a subclass of `PermanentError` or `TransientError`: the Customer.io clients
(`customerio.errors`), the send-once guard (`idempotency.guard`), message decoding
(`messages.codec`). Delivery decides a message's fate with `classify`, the one place where an
exception becomes "retry" or "dead-letter", so no layer reads another's attributes by name.

`reason` is short and free of personal data: it goes into logs, metrics and dead-letter
attributes as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class Error(Exception):
    """Base of every failure the runtime raises on purpose.

    `maybe_applied` is True when the other side may have acted on the request before the failure
    (a read timeout, most 5xx): repeating a non-idempotent call may repeat its effect.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, reason: str, *, status: int | None = None, maybe_applied: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.maybe_applied = maybe_applied

    @property
    def error_class(self) -> str:
        """The name used for metrics and dead-letter attributes."""
        return type(self).__name__

    def __str__(self) -> str:
        return self.reason if self.status is None else f"HTTP {self.status}: {self.reason}"


class PermanentError(Error):
    """The same request will fail the same way: dead-letter it, do not retry."""


class TransientError(Error):
    """Worth retrying with backoff: the same request may succeed later."""

    retryable = True


@dataclass(frozen=True)
class Verdict:
    """What to do about one failure, decided once (see `classify`)."""

    retry: bool
    maybe_applied: bool
    reason: str
    error_class: str
    status: int | None = None


def classify(error: BaseException) -> Verdict:
    """The fate of any exception. One of ours says it itself; anything else (a bug, a library's
    own exception, an outage we did not foresee) is retried, and counts as possibly applied,
    since nothing tells us it was not: retrying keeps the message, and the send-once guard keeps
    a possibly applied send from going out twice."""
    if isinstance(error, Error):
        return Verdict(error.retryable, error.maybe_applied, error.reason, error.error_class, error.status)
    return Verdict(True, True, "unexpected error", type(error).__name__)
