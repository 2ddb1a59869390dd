"""Skip identifies that would change nothing: Customer.io's rate budget is spent on real changes.

Per person (per exact identifier) we keep a hash of the attributes Customer.io last *accepted*,
in a store of its own (`people.store`; Firestore in the cloud). An identify
whose canonical attributes hash to the stored value is not sent.

Rules that keep this safe:
- the hash is written only after Customer.io accepted the identify, so a failed send is never
  skipped later;
- suppress, unsuppress, delete and merge forget the hash *before* they are sent, so a deleted and
  re-created person is identified again; if forgetting fails, the operation fails (and is retried)
  rather than leave a stale hash;
- a failing store never blocks an identify: it is sent, and the failure is logged.

Known windows: two identifies of one person with different attributes, delivered concurrently,
may leave the hash of the one Customer.io applied first; an identify remembered just after a
concurrent delete, suppress or merge forgot the hash leaves a hash for a person Customer.io no
longer has; a failed write leaves the previous hash. In each, the next identify equal to the
remembered state is skipped. Publish a person's updates in order (or set `force`) where that
matters. Coalesced identifies never use this (docs/coalescing.md says why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.ids import content_hash
from customerio_gcp.observability import log
from customerio_gcp.people.keys import Workspace, person_key
from customerio_gcp.people.store import HashStore, StoredHash

Person = tuple[Identifiers, Mapping[str, Any]]


class AttributeHashes:
    def __init__(
        self,
        store: HashStore,
        workspace: Workspace = lambda: "",
        *,
        ttl_s: float = 30 * 24 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._ttl_s = ttl_s
        self._clock = clock

    def key(self, identifiers: Identifiers) -> str:
        """Workspace-scoped: after a switch of site id or region, nothing is skipped."""
        return person_key("identify", self._workspace(), identifiers)

    @staticmethod
    def digest(attributes: Mapping[str, Any], update_only: bool) -> str:
        return content_hash({"attributes": dict(attributes), "update_only": update_only})

    def unchanged(self, identifiers: Identifiers, attributes: Mapping[str, Any], *, update_only: bool = False) -> bool:
        return self._unchanged([(identifiers, attributes)], update_only)[0]

    def unchanged_many(self, people: Sequence[Person]) -> list[bool]:
        """`unchanged` for many people in one round trip per few hundred (bulk sync)."""
        return self._unchanged(people, False)

    def _unchanged(self, people: Sequence[Person], update_only: bool) -> list[bool]:
        try:
            stored = self._store.get_many([self.key(identifiers) for identifiers, _ in people])
        except Exception as exc:
            log(logging.WARNING, "attribute-hash lookup failed; sending", error_class=type(exc).__name__)
            return [False] * len(people)
        now = self._clock()
        answers = []
        for identifiers, attributes in people:
            found = stored.get(self.key(identifiers))
            answers.append(
                found is not None and found.expires_at > now and found.digest == self.digest(attributes, update_only)
            )
        return answers

    def remember(self, identifiers: Identifiers, attributes: Mapping[str, Any], *, update_only: bool = False) -> None:
        """Record what Customer.io accepted. Best effort: a failure only costs a later resend."""
        self._remember([(identifiers, attributes)], update_only)

    def remember_many(self, people: Sequence[Person]) -> None:
        """`remember` for many people at once; best effort, like `remember`."""
        self._remember(people, False)

    def _remember(self, people: Sequence[Person], update_only: bool) -> None:
        expires_at = self._clock() + self._ttl_s
        hashes = {self.key(i): StoredHash(self.digest(a, update_only), expires_at) for i, a in people}
        try:
            self._store.put_many(hashes)
        except Exception as exc:
            log(logging.WARNING, "could not record attribute hashes", error_class=type(exc).__name__)

    def forget(self, *people: Identifiers) -> None:
        """Drop the stored hashes. Raises if the store fails: a stale hash must not survive."""
        self._store.delete_many([self.key(identifiers) for identifiers in people])
