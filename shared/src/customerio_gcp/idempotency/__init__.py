"""Send-once protection for calls Customer.io cannot de-duplicate (transactional, broadcasts).

Modelled on Powertools' idempotency utility: a record goes IN_PROGRESS (a conditional create)
with a lease, becomes COMPLETED with the stored result, or is deleted when the call failed before
it could reach Customer.io. Anything else ends UNKNOWN, and so does a record whose lease ran out:
never taken over silently; only an operator's approval (RESEND_APPROVED) sends it again.
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
