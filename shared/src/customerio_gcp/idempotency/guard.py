"""Run an action at most once per idempotency key, across processes sharing a store.

Delivery semantics, stated plainly: a COMPLETED record makes every later duplicate return the
stored result without calling Customer.io. A call that failed before Customer.io could act on it
(refused connection, 429, 4xx) deletes the record, so the message can be retried.

A call that fails *ambiguously* — a read timeout, or a 5xx other than 503 — may have been
applied by Customer.io, which offers no idempotency key for sends. Retrying could send the email
twice; not retrying could lose it. We do neither silently: the record turns UNKNOWN and
`OutcomeUnknownError` (permanent) sends the message to its dead-letter topic with that reason.
An operator checks Customer.io's delivery log and replays it (`customerio-gcp dlq replay`) to
send it anyway: a replay may take over an UNKNOWN record (`resend_unknown`). So a send is never
repeated without a person deciding, and never lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customerio_gcp.errors import PermanentError, TransientError, classify
from customerio_gcp.idempotency.records import IdempotencyRecord, Status
from customerio_gcp.idempotency.store import IdempotencyStore
from customerio_gcp.ids import content_hash
from customerio_gcp.observability import log


class SendInProgressError(TransientError):
    """Another attempt holds the lease: retry later, when it has completed or its lease expired."""


class IdempotencyKeyReusedError(PermanentError):
    """The key was used before with a different payload: a caller bug, never resolved by retrying."""


class OutcomeUnknownError(PermanentError):
    """Customer.io may or may not have sent this; repeating it automatically could send it twice."""

    def __init__(self, cause: str) -> None:
        super().__init__(
            f"Customer.io may already have sent this ({cause}); not retried automatically to avoid a duplicate: "
            "check the delivery in Customer.io, then replay the dead letter to send it anyway"
        )


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    replayed: bool
    """True when the result came from an earlier completed attempt and nothing was sent."""


class IdempotencyGuard:
    def __init__(
        self,
        store: IdempotencyStore,
        *,
        lease_s: float = 120.0,
        ttl_s: float = 8 * 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._lease_s = lease_s
        self._ttl_s = ttl_s
        self._clock = clock

    def run(
        self, key: str, payload: Any, action: Callable[[], dict[str, Any]], *, resend_unknown: bool = False
    ) -> Outcome:
        """Call `action` unless `key` already completed; `payload` catches a reused key.
        `resend_unknown`: an operator's replay may send again what ended UNKNOWN."""
        payload_hash = content_hash(payload)
        token = uuid.uuid4().hex
        replayed = self._acquire(key, payload_hash, token, resend_unknown=resend_unknown)
        if replayed is not None:
            return replayed
        now = self._clock()
        try:
            result = action()
        except BaseException as exc:
            verdict = classify(exc)
            if verdict.maybe_applied:
                unknown = IdempotencyRecord(key, Status.UNKNOWN, payload_hash, token, now, now + self._ttl_s)
                self._store.replace(unknown, expected_token=token)
                raise OutcomeUnknownError(verdict.reason) from exc
            if not self._store.delete(key, expected_token=token):
                log(logging.WARNING, "idempotency record was taken over before release", idempotency="lost_lease")
            raise
        record = IdempotencyRecord(key, Status.COMPLETED, payload_hash, token, now, now + self._ttl_s, result)
        if not self._store.replace(record, expected_token=token):
            # Our lease expired and another attempt took over: it will find the send done only if
            # it reads after this point; say so, since a duplicate send may follow.
            log(logging.WARNING, "idempotency lease lost before completion", idempotency="lost_lease")
        return Outcome(result, replayed=False)

    def _acquire(self, key: str, payload_hash: str, token: str, *, resend_unknown: bool) -> Outcome | None:
        """Take the record for this attempt, or return the completed outcome to replay."""
        for _ in range(3):
            now = self._clock()
            record = IdempotencyRecord(
                key, Status.IN_PROGRESS, payload_hash, token, now + self._lease_s, now + self._ttl_s
            )
            if self._store.create(record):
                return None
            existing = self._store.get(key)
            if existing is None:
                continue  # released between our create and get: try to create again
            if existing.expires_at <= now:
                if self._store.replace(record, expected_token=existing.token):
                    return None
                continue
            if existing.payload_hash != payload_hash:
                raise IdempotencyKeyReusedError("idempotency key reused with a different payload")
            if existing.status is Status.COMPLETED:
                return Outcome(existing.result or {}, replayed=True)
            if existing.status is Status.UNKNOWN:
                if not resend_unknown:
                    raise OutcomeUnknownError("an earlier attempt's outcome is unknown")
                if self._store.replace(record, expected_token=existing.token):
                    log(logging.WARNING, "resending a send whose outcome was unknown", idempotency="resend_unknown")
                    return None
                continue
            if existing.lease_expires_at > now:
                raise SendInProgressError("another attempt holds this idempotency key")
            if self._store.replace(record, expected_token=existing.token):
                log(logging.INFO, "took over an expired idempotency lease", idempotency="takeover")
                return None
        raise SendInProgressError("idempotency record changed under us; retry")
