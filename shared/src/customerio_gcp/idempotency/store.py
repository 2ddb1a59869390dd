"""The persistence interface behind the guard, and an in-process implementation.

Four calls make the guard; `get_many` and `put_many` let bulk work (a 20,000-user sync checking
last-synced attributes) use one round trip per few hundred records instead of one per record.

`InMemoryStore` protects one process only (a local run, a CLI); across function instances use
`FirestoreStore`. Another backend implements the same four calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
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

    def get_many(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        """The records that exist among `keys`."""

    def put_many(self, records: Sequence[IdempotencyRecord]) -> None:
        """Store each record unconditionally (create or overwrite)."""


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

    def get_many(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        with self._lock:
            return {k: self._records[k] for k in keys if k in self._records}

    def put_many(self, records: Sequence[IdempotencyRecord]) -> None:
        with self._lock:
            self._records.update({r.key: r for r in records})


class LazyStore:
    """Creates the real store on first use, so a function that never sends (identify, track)
    never imports or connects the Firestore client: it keeps their cold start light."""

    def __init__(self, factory: Callable[[], IdempotencyStore]) -> None:
        self._factory = factory
        self._store: IdempotencyStore | None = None
        self._lock = threading.Lock()

    def _get(self) -> IdempotencyStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._factory()
        return self._store

    def create(self, record: IdempotencyRecord) -> bool:
        return self._get().create(record)

    def get(self, key: str) -> IdempotencyRecord | None:
        return self._get().get(key)

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        return self._get().replace(record, expected_token=expected_token)

    def delete(self, key: str, *, expected_token: str) -> bool:
        return self._get().delete(key, expected_token=expected_token)

    def get_many(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        return self._get().get_many(keys)

    def put_many(self, records: Sequence[IdempotencyRecord]) -> None:
        self._get().put_many(records)
