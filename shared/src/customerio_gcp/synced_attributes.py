"""Skip identifies that would change nothing: Customer.io's rate budget is spent on real changes.

Per person (per exact identifier) we keep a hash of the attributes Customer.io last *accepted*,
in the same four-call store as the idempotency records (Firestore in the cloud). An identify
whose canonical attributes hash to the stored value is not sent.

Rules that keep this safe:
- the hash is written only after Customer.io accepted the identify, so a failed send is never
  skipped later;
- suppress, unsuppress, delete and merge forget the hash *before* they are sent, so a deleted and
  re-created person is identified again; if forgetting fails, the operation fails (and is retried)
  rather than leave a stale hash;
- a failing store never blocks an identify: it is sent, and the failure is logged.

Known window: two identifies of one person with different attributes, delivered concurrently,
may leave the hash of the one Customer.io applied first; the next identify equal to that older
state would then be skipped. Publish a person's updates in order (or set `force`) where that
matters.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.idempotency.records import IdempotencyRecord, Status
from customerio_gcp.idempotency.store import IdempotencyStore
from customerio_gcp.ids import content_hash
from customerio_gcp.observability import log


class SyncedAttributes:
    def __init__(
        self, store: IdempotencyStore, *, ttl_s: float = 30 * 24 * 3600.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock

    @staticmethod
    def key(identifiers: Identifiers) -> str:
        value = identifiers.value.lower() if identifiers.kind == "email" else identifiers.value
        return f"identify:{identifiers.kind}:{value}"

    @staticmethod
    def digest(attributes: Mapping[str, Any], update_only: bool) -> str:
        return content_hash({"attributes": dict(attributes), "update_only": update_only})

    def unchanged(self, identifiers: Identifiers, attributes: Mapping[str, Any], *, update_only: bool = False) -> bool:
        try:
            record = self._store.get(self.key(identifiers))
        except Exception as exc:
            log(
                logging.WARNING, "synced-attributes lookup failed; sending the identify", error_class=type(exc).__name__
            )
            return False
        return (
            record is not None
            and record.expires_at > self._clock()
            and record.payload_hash == self.digest(attributes, update_only)
        )

    def remember(self, identifiers: Identifiers, attributes: Mapping[str, Any], *, update_only: bool = False) -> None:
        """Record what Customer.io accepted. Best effort: a failure only costs a later resend."""
        key = self.key(identifiers)
        now = self._clock()
        record = IdempotencyRecord(
            key, Status.COMPLETED, self.digest(attributes, update_only), uuid.uuid4().hex, now, now + self._ttl_s
        )
        try:
            for _ in range(3):
                if self._store.create(record):
                    return
                existing = self._store.get(key)
                if existing is not None and self._store.replace(record, expected_token=existing.token):
                    return
        except Exception as exc:
            log(logging.WARNING, "could not record synced attributes", error_class=type(exc).__name__)

    def unchanged_many(self, items: Sequence[tuple[Identifiers, Mapping[str, Any]]]) -> list[bool]:
        """`unchanged` for many people in one round trip per few hundred (bulk sync)."""
        try:
            records = self._store.get_many([self.key(identifiers) for identifiers, _ in items])
        except Exception as exc:
            log(
                logging.WARNING,
                "synced-attributes lookup failed; sending the identifies",
                error_class=type(exc).__name__,
            )
            return [False] * len(items)
        now = self._clock()
        answers = []
        for identifiers, attributes in items:
            record = records.get(self.key(identifiers))
            answers.append(
                record is not None and record.expires_at > now and record.payload_hash == self.digest(attributes, False)
            )
        return answers

    def remember_many(self, items: Sequence[tuple[Identifiers, Mapping[str, Any]]]) -> None:
        """`remember` for many people at once; best effort, like `remember`."""
        now = self._clock()
        records = [
            IdempotencyRecord(
                self.key(i), Status.COMPLETED, self.digest(a, False), uuid.uuid4().hex, now, now + self._ttl_s
            )
            for i, a in items
        ]
        try:
            self._store.put_many(records)
        except Exception as exc:
            log(logging.WARNING, "could not record synced attributes", error_class=type(exc).__name__)

    def forget(self, identifiers: Identifiers) -> None:
        """Drop the stored hash. Raises if the store fails: a stale hash must not survive."""
        key = self.key(identifiers)
        for _ in range(3):
            existing = self._store.get(key)
            if existing is None or self._store.delete(key, expected_token=existing.token):
                return
        raise RuntimeError("synced-attributes record kept changing; retry")
