"""Run an action at most once per idempotency key, across processes sharing a store.

Delivery semantics, stated plainly: a COMPLETED record makes every later duplicate return the
stored result without calling Customer.io. A failed call deletes the record so the message can be
retried. A call that fails *ambiguously* (a read timeout or 5xx after the request left) may have
been applied by Customer.io, which offers no idempotency key for sends: we still release the
record and let the retry send again, choosing at-least-once over silently losing the email. The
window is one timeout per send and is visible in the metrics (`maybe_applied`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customerio_gcp.customerio.errors import PermanentError, TransientError
from customerio_gcp.idempotency.records import IdempotencyRecord, Status
from customerio_gcp.idempotency.store import IdempotencyStore
from customerio_gcp.ids import content_hash
from customerio_gcp.observability import log


class SendInProgressError(TransientError):
    """Another attempt holds the lease: retry later, when it has completed or its lease expired."""


class IdempotencyKeyReusedError(PermanentError):
    """The key was used before with a different payload: a caller bug, never resolved by retrying."""


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

    def run(self, key: str, payload: Any, action: Callable[[], dict[str, Any]]) -> Outcome:
        """Call `action` unless `key` already completed; `payload` catches a reused key."""
        payload_hash = content_hash(payload)
        token = uuid.uuid4().hex
        replayed = self._acquire(key, payload_hash, token)
        if replayed is not None:
            return replayed
        now = self._clock()
        try:
            result = action()
        except BaseException:
            if not self._store.delete(key, expected_token=token):
                log(logging.WARNING, "idempotency record was taken over before release", idempotency="lost_lease")
            raise
        record = IdempotencyRecord(key, Status.COMPLETED, payload_hash, token, now, now + self._ttl_s, result)
        if not self._store.replace(record, expected_token=token):
            # Our lease expired and another attempt took over: it will find the send done only if
            # it reads after this point; say so, since a duplicate send may follow.
            log(logging.WARNING, "idempotency lease lost before completion", idempotency="lost_lease")
        return Outcome(result, replayed=False)

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
                if self._store.replace(record, expected_token=existing.token):
                    return None
                continue
            if existing.payload_hash != payload_hash:
                raise IdempotencyKeyReusedError("idempotency key reused with a different payload")
            if existing.status is Status.COMPLETED:
                return Outcome(existing.result or {}, replayed=True)
            if existing.lease_expires_at > now:
                raise SendInProgressError("another attempt holds this idempotency key")
            if self._store.replace(record, expected_token=existing.token):
                log(logging.INFO, "took over an expired idempotency lease", idempotency="takeover")
                return None
        raise SendInProgressError("idempotency record changed under us; retry")
