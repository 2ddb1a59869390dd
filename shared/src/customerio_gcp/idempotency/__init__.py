"""Send-once protection for calls Customer.io cannot de-duplicate (transactional, broadcasts).

Modelled on Powertools' idempotency utility: a record goes IN_PROGRESS (a conditional create)
with a lease, becomes COMPLETED with the stored result, or is deleted when the call fails. A
record whose lease ran out can be taken over, so a crashed attempt does not block forever.
"""

from customerio_gcp.idempotency.guard import (
    IdempotencyGuard,
    IdempotencyKeyReusedError,
    Outcome,
    OutcomeUnknownError,
    SendInProgressError,
)
from customerio_gcp.idempotency.records import IdempotencyRecord, Status
from customerio_gcp.idempotency.store import IdempotencyStore, InMemoryStore

__all__ = [
    "IdempotencyGuard",
    "IdempotencyKeyReusedError",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InMemoryStore",
    "Outcome",
    "OutcomeUnknownError",
    "SendInProgressError",
    "Status",
]
