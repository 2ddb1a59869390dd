"""Run an action at most once per idempotency key, across processes sharing a store.

Delivery semantics, stated plainly (the full table is docs/delivery-semantics.md):

- A COMPLETED record makes every later duplicate return the stored result without calling
  Customer.io.
- A record is released (deleted, so the message can be retried) only after an error known not to
  have reached Customer.io: a refused connection, a 429, a 503, a 4xx. Everything else — a read
  timeout, another 5xx, a connection reset after the request left, a 200 we cannot read, any
  exception we did not foresee — may have sent the email: the record turns UNKNOWN and the
  message goes to its dead-letter topic as `OutcomeUnknownError`. Customer.io offers no
  idempotency key for sends, so only a person can tell, from Customer.io's delivery log.
- An IN_PROGRESS record whose lease ran out (its attempt crashed, or could not write its outcome)
  is treated as UNKNOWN too: never taken over silently.
- Sending an UNKNOWN again needs an operator's approval written into the record itself
  (`approve_resend`, used by `customerio-gcp dlq replay --resend-unknown`). No message field or
  attribute can stand in for it: anyone who may publish could set one.
- Writes of the outcome are retried; when the completion write still fails, the send happened,
  so the message is acknowledged anyway (with an error metric) and the record is left
  IN_PROGRESS, which a duplicate would find lease-expired: UNKNOWN, for a person.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from customerio_gcp.errors import PermanentError, TransientError, classify
from customerio_gcp.idempotency.records import IdempotencyRecord, Status
from customerio_gcp.idempotency.store import IdempotencyStore
from customerio_gcp.ids import content_hash
from customerio_gcp.observability import log

WRITE_ATTEMPTS = 3


class SendInProgressError(TransientError):
    """Another attempt holds the lease: retry later, when it has completed or its lease expired."""


class IdempotencyKeyReusedError(PermanentError):
    """The key was used before with a different payload: a caller bug, never resolved by retrying."""


class OutcomeUnknownError(PermanentError):
    """Customer.io may or may not have sent this; repeating it automatically could send it twice."""

    def __init__(self, cause: str) -> None:
        super().__init__(
            f"Customer.io may already have sent this ({cause}); not retried automatically to avoid a duplicate: "
            "check the delivery in Customer.io, then `customerio-gcp dlq replay --resend-unknown` to send it anyway"
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
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._lease_s = lease_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._pause = pause

    def run(self, key: str, payload: Any, action: Callable[[], dict[str, Any]]) -> Outcome:
        """Call `action` unless `key` already completed; `payload` catches a reused key."""
        payload_hash = content_hash(payload)
        token = uuid.uuid4().hex
        earlier = self._acquire(key, payload_hash, token)
        if earlier is not None:
            return earlier
        now = self._clock()
        try:
            result = action()
        except BaseException as exc:
            verdict = classify(exc)
            if verdict.maybe_applied:
                unknown = IdempotencyRecord(key, Status.UNKNOWN, payload_hash, token, now, now + self._ttl_s)
                self._write(partial(self._store.replace, unknown, expected_token=token), "mark_unknown")
                raise OutcomeUnknownError(verdict.reason) from exc
            self._write(partial(self._store.delete, key, expected_token=token), "release")
            raise
        completed = IdempotencyRecord(key, Status.COMPLETED, payload_hash, token, now, now + self._ttl_s, result)
        self._write(partial(self._store.replace, completed, expected_token=token), "complete")
        return Outcome(result, replayed=False)

    def approve_resend(self, key: str) -> bool:
        """An operator's decision to send again what ended UNKNOWN (or was left IN_PROGRESS past
        its lease). True when the record now says so; False when there is nothing to approve."""
        existing = self._store.get(key)
        if existing is None:
            return False
        stale = existing.status is Status.IN_PROGRESS and existing.lease_expires_at <= self._clock()
        if existing.status is not Status.UNKNOWN and not stale:
            return existing.status is Status.RESEND_APPROVED
        approved = replace(existing, status=Status.RESEND_APPROVED)
        return self._store.replace(approved, expected_token=existing.token)

    def _write(self, write: Callable[[], bool], step: str) -> None:
        """A few attempts at recording an outcome. Never raises: the caller's outcome (sent,
        unknown, not sent) is what the message's fate must follow, not the store's trouble.
        A write that never lands leaves the record IN_PROGRESS, which ends UNKNOWN."""
        failure = "unknown"
        for attempt in range(WRITE_ATTEMPTS):
            try:
                if not write():
                    log(logging.ERROR, "idempotency record held by another attempt", metric="idempotency",
                        outcome="lost_lease", step=step)  # fmt: skip
                return
            except Exception as exc:  # the store's own errors: Firestore unavailable, timeouts, contention
                failure = type(exc).__name__
                if attempt + 1 < WRITE_ATTEMPTS:
                    self._pause(0.2 * 2**attempt)
        log(logging.ERROR, "could not write the idempotency record", metric="idempotency", outcome="write_failed",
            step=step, error_class=failure)  # fmt: skip

    def _acquire(self, key: str, payload_hash: str, token: str) -> Outcome | None:
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
                # Past its retention (longer than Pub/Sub keeps a message): as if absent.
                if self._store.replace(record, expected_token=existing.token):
                    return None
                continue
            if existing.payload_hash != payload_hash:
                raise IdempotencyKeyReusedError("idempotency key reused with a different payload")
            if existing.status is Status.COMPLETED:
                return Outcome(existing.result or {}, replayed=True)
            if existing.status is Status.RESEND_APPROVED:
                if self._store.replace(record, expected_token=existing.token):
                    log(logging.WARNING, "resending, as an operator approved", metric="idempotency",
                        outcome="resend_approved")  # fmt: skip
                    return None
                continue
            if existing.status is Status.UNKNOWN:
                raise OutcomeUnknownError("an earlier attempt's outcome is unknown")
            if existing.lease_expires_at > now:
                raise SendInProgressError("another attempt holds this idempotency key")
            unknown = replace(existing, status=Status.UNKNOWN)
            self._write(partial(self._store.replace, unknown, expected_token=existing.token), "mark_unknown")
            raise OutcomeUnknownError("an earlier attempt did not record its outcome before its lease ran out")
        raise SendInProgressError("idempotency record changed under us; retry")
