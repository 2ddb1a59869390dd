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
    at: float = 0.0
    """When Customer.io applied the identify, as far as we know: its own timestamp (v2 orders
    identifies by it), else our clock when it was sent."""
    window: float = 0.0
    """How far `at` may be off: 0 for a timestamp Customer.io compares as it is, more for our
    clock standing in for Customer.io's time of receipt."""


def settle(stored: StoredHash | None, new: StoredHash, now: float) -> StoredHash | None:
    """What to keep for a person once `new` was accepted, given what was `stored`.

    The record must describe the identify Customer.io applied *last*, or a later identify equal
    to an older state would be skipped and lost. v2 silently ignores an identify older than the
    profile's last update, so acceptance does not mean applied. Hence: the newer of the two is
    kept; when their times are too close to order (their windows overlap), neither is: None
    forgets the person, and their next identify is sent. The same digest needs no order.
    """
    if stored is None or stored.expires_at <= now:
        return new
    if stored.digest == new.digest:
        return new if new.at >= stored.at else stored
    margin = stored.window + new.window
    if new.at > stored.at + margin:
        return new
    if new.at < stored.at - margin:
        return stored
    return None


class HashStore(Protocol):
    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        """The hashes that exist among `keys`."""

    def remember_many(self, hashes: Mapping[str, StoredHash], now: float) -> None:
        """Per key, store what `settle` decides against what is stored, atomically against
        concurrent writers (two instances remembering identifies of one person)."""

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

    def remember_many(self, hashes: Mapping[str, StoredHash], now: float) -> None:
        with self._lock:
            for key, new in hashes.items():
                kept = settle(self._hashes.get(key), new, now)
                if kept is None:
                    self._hashes.pop(key, None)
                else:
                    self._hashes[key] = kept

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
