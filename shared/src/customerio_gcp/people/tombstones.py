"""Deletions are final whatever the order: a deleted person is never brought back by a message
older than the deletion.

Pub/Sub does not keep order, so a `suppress` published before a `delete` may arrive after it,
and an identify still being retried when a person is deleted may land after the deletion; either
would re-create the person in Customer.io. So a deletion first leaves a tombstone (deletion time,
hashed workspace-scoped identifier, expiry), and every message about that person whose time — its
`timestamp`, or its Pub/Sub publish time when it has none — is not after the deletion is
acknowledged as skipped (metric outcome `skipped_deleted`) instead of being sent. A newer message,
a person signing up again, goes through. Ties go to the deletion.

Tombstones match the exact identifier of the deletion (an `id` tombstone does not stop a message
that names the same person by email): Customer.io's own resolution of one to the other is not
visible from here. They expire after `ttl_s` (default 8 days: longer than Pub/Sub keeps a
message, so no message older than a deletion can still be waiting when it expires).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.people.keys import Workspace, person_key
from customerio_gcp.people.store import Tombstone, TombstoneStore


class Tombstones:
    def __init__(
        self,
        store: TombstoneStore,
        workspace: Workspace,
        *,
        ttl_s: float = 8 * 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._ttl_s = ttl_s
        self._clock = clock

    def _key(self, identifiers: Identifiers) -> str:
        return person_key("deleted", self._workspace(), identifiers)

    def bury(self, identifiers: Identifiers, deleted_at: float) -> None:
        """Record a deletion before it is sent. Raises if the store fails: the deletion is then
        retried, rather than sent without the protection the tombstone gives."""
        key = self._key(identifiers)
        existing = self._store.get_many([key]).get(key)
        if existing is not None and existing.deleted_at >= deleted_at:
            return
        self._store.put_many({key: Tombstone(deleted_at, max(deleted_at, self._clock()) + self._ttl_s)})

    def deleted_since(self, people: Sequence[Identifiers], moment: float) -> bool:
        """True when any of `people` was deleted at or after `moment`. Raises if the store
        fails: the message is retried rather than risk bringing a deleted person back."""
        keys = [self._key(identifiers) for identifiers in people]
        now = self._clock()
        return any(t.deleted_at >= moment and t.expires_at > now for t in self._store.get_many(keys).values())
