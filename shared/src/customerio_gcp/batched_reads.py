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
    woken: threading.Event = field(default_factory=threading.Event)
    """Set when the lookup is done, or when it is its turn to do the next read."""


class BatchedReads(Generic[Value]):
    def __init__(self, read: Callable[[Sequence[str]], dict[str, Value]], *, max_keys: int = 300) -> None:
        """`read`: the store's own many-keys read; `max_keys`: the most keys one read asks for
        (a lookup larger than that is read alone)."""
        self._read = read
        self._max_keys = max_keys
        self._pending: list[_Lookup[Value]] = []
        self._reading = False
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, Value]:
        """What `read(keys)` would return, possibly read together with other threads' keys."""
        lookup: _Lookup[Value] = _Lookup(list(keys))
        with self._lock:
            self._pending.append(lookup)
            leads = not self._reading  # then nothing was pending: this lookup is first in line
            self._reading = True
        if not leads:
            lookup.woken.wait()
        if not lookup.done:  # woken to lead: first in line, so the next read includes it
            self._read_next()
        if lookup.error is not None:
            raise lookup.error
        return lookup.found

    def _read_next(self) -> None:
        """One read for the oldest pending lookups, then the turn passes to the next one waiting
        (each waiter sleeps on its own event: no thread is dedicated, none is woken in vain)."""
        batch: list[_Lookup[Value]] = []
        keys: set[str] = set()
        try:
            with self._lock:
                while self._pending and (not batch or len(keys) + len(self._pending[0].keys) <= self._max_keys):
                    lookup = self._pending.pop(0)
                    batch.append(lookup)
                    keys.update(lookup.keys)
            try:
                found = self._read(sorted(keys))
                error: BaseException | None = None
            except BaseException as exc:  # every lookup of the batch fails with it, none hangs
                found, error = {}, exc
            for lookup in batch:
                lookup.found = {key: found[key] for key in lookup.keys if key in found}
                lookup.error = error
        except BaseException as exc:  # unusable keys or answer: the batch fails, nobody hangs
            for lookup in batch:
                lookup.error = exc
        finally:  # whatever happened, the batch is finished and the turn passes on
            for lookup in batch:
                lookup.done = True
            with self._lock:
                if self._pending:
                    self._pending[0].woken.set()
                else:
                    self._reading = False
            for lookup in batch:
                lookup.woken.set()
