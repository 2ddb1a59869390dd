"""The idempotency record, as every store keeps it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    UNKNOWN = "UNKNOWN"  # the call failed after Customer.io may have acted on it
    RESEND_APPROVED = "RESEND_APPROVED"  # an operator checked Customer.io and decided to send again


@dataclass(frozen=True)
class IdempotencyRecord:
    """`token` names the attempt that holds the record; only it may complete or release it.

    Times are unix seconds. `expires_at` is what a TTL policy deletes on; `lease_expires_at` is
    when another attempt may take an IN_PROGRESS record over.
    """

    key: str
    status: Status
    payload_hash: str
    token: str
    lease_expires_at: float
    expires_at: float
    result: dict[str, Any] | None = None

    def completed(self, result: dict[str, Any]) -> IdempotencyRecord:
        return replace(self, status=Status.COMPLETED, result=result)
