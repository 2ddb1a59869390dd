"""The persistence interface behind the guard, and an in-process implementation.

Four calls make the guard, as in Powertools' persistence layer: a conditional create, a read, and
a replace and a delete that only the attempt holding the record (its token) may make.

`InMemoryStore` protects one process only (a local run, a CLI); across function instances use
`FirestoreStore`. Another backend implements the same four calls.
"""

from __future__ import annotations

import threading
from typing import Protocol

from customerio_gcp.idempotency.records import IdempotencyRecord


class IdempotencyStore(Protocol):
    def create(self, record: IdempotencyRecord) -> bool:
        """Store the record only if none exists under its key; True when stored."""

    def get(self, key: str) -> IdempotencyRecord | None: ...

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        """Overwrite only if the stored record's token is `expected_token`; True when done."""

    def delete(self, key: str, *, expected_token: str) -> bool:
        """Delete only if the stored record's token is `expected_token`; True when done."""


class InMemoryStore:
    def __init__(self) -> None:
        self._records: dict[str, IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def create(self, record: IdempotencyRecord) -> bool:
        with self._lock:
            if record.key in self._records:
                return False
            self._records[record.key] = record
            return True

    def get(self, key: str) -> IdempotencyRecord | None:
        with self._lock:
            return self._records.get(key)

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        with self._lock:
            current = self._records.get(record.key)
            if current is None or current.token != expected_token:
                return False
            self._records[record.key] = record
            return True

    def delete(self, key: str, *, expected_token: str) -> bool:
        with self._lock:
            current = self._records.get(key)
            if current is None or current.token != expected_token:
                return False
            del self._records[key]
            return True
