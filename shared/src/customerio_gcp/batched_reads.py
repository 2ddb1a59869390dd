"""Concurrent lookups on one instance share round trips to the store.

A delivery function serves up to 80 messages at once, and each reads the store before it sends
(the person's tombstone; identify also the attribute hash). One Firestore round trip per message
costs more CPU than the message's share of its Customer.io request once those are coalesced.
So while one read is in flight, the lookups that arrive meanwhile wait and then go together in
the next read: an idle instance reads at once, a busy one reads in batches, and nothing lingers.

A lookup never joins a read that has already started, so it sees every write made before it was
asked for (a tombstone buried a moment earlier is found).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Value = TypeVar("Value")


@dataclass
class _Lookup(Generic[Value]):
    keys: list[str]
    found: dict[str, Value] = field(default_factory=dict)
    error: BaseException | None = None
    done: bool = False


class BatchedReads(Generic[Value]):
    def __init__(self, read: Callable[[Sequence[str]], dict[str, Value]], *, max_keys: int = 300) -> None:
        """`read`: the store's own many-keys read; `max_keys`: the most keys one read asks for
        (a lookup larger than that is read alone)."""
        self._read = read
        self._max_keys = max_keys
        self._pending: list[_Lookup[Value]] = []
        self._reading = False
        self._changed = threading.Condition()

    def get_many(self, keys: Sequence[str]) -> dict[str, Value]:
        """What `read(keys)` would return, possibly read together with other threads' keys."""
        lookup: _Lookup[Value] = _Lookup(list(keys))
        with self._changed:
            self._pending.append(lookup)
            while not lookup.done:
                if self._reading:
                    self._changed.wait()
                else:
                    self._read_next()
        if lookup.error is not None:
            raise lookup.error
        return lookup.found

    def _read_next(self) -> None:
        """One read for the oldest pending lookups; called holding the lock, releases it while
        reading. Whoever finds no read in flight does the next one, so no thread is dedicated."""
        batch: list[_Lookup[Value]] = []
        keys: set[str] = set()
        while self._pending and (not batch or len(keys) + len(self._pending[0].keys) <= self._max_keys):
            lookup = self._pending.pop(0)
            batch.append(lookup)
            keys.update(lookup.keys)
        self._reading = True
        self._changed.release()
        try:
            found = self._read(sorted(keys))
            error: BaseException | None = None
        except BaseException as exc:  # every lookup of the batch fails with it, none hangs
            found, error = {}, exc
        finally:
            self._changed.acquire()
            self._reading = False
        for lookup in batch:
            lookup.found = {key: found[key] for key in lookup.keys if key in found}
            lookup.error = error
            lookup.done = True
        self._changed.notify_all()
