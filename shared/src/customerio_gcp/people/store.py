"""Where per-person state is kept: attribute hashes and deletion tombstones, each in a small store
of its own, not in the send-once records.

The hashes are a cache (losing one costs one resend), the idempotency records a guarantee; they
have different operations, lifetimes and failure rules, so they do not share an interface.
Bulk calls take many keys because a 20,000-user sync checks them a few hundred at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredHash:
    digest: str
    expires_at: float
    """Unix seconds; a TTL policy deletes on it, and readers treat an expired hash as absent."""


class HashStore(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        """The hashes that exist among `keys`."""

    def put_many(self, hashes: Mapping[str, StoredHash]) -> None:
        """Store each hash under its key, replacing what was there."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Forget these keys; a missing key is not an error."""


class InMemoryHashStore:
    """One process only: a local run, a CLI, tests."""

    def __init__(self) -> None:
        self._hashes: dict[str, StoredHash] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        with self._lock:
            return {k: self._hashes[k] for k in keys if k in self._hashes}

    def put_many(self, hashes: Mapping[str, StoredHash]) -> None:
        with self._lock:
            self._hashes.update(hashes)

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._hashes.pop(key, None)


@dataclass(frozen=True)
class Tombstone:
    deleted_at: float
    """Unix seconds: the time of the deletion message (its `timestamp`, else its publish time)."""
    expires_at: float


class TombstoneStore(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, Tombstone]:
        """The tombstones that exist among `keys`."""

    def put_many(self, tombstones: Mapping[str, Tombstone]) -> None:
        """Store each tombstone under its key, replacing what was there."""


class InMemoryTombstoneStore:
    """One process only: a local run, a CLI, tests."""

    def __init__(self) -> None:
        self._tombstones: dict[str, Tombstone] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, Tombstone]:
        with self._lock:
            return {k: self._tombstones[k] for k in keys if k in self._tombstones}

    def put_many(self, tombstones: Mapping[str, Tombstone]) -> None:
        with self._lock:
            self._tombstones.update(tombstones)
