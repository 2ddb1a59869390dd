"""Skip identifies that would change nothing: Customer.io's rate budget is spent on real changes.

Per person (per exact identifier) we keep a hash of the attributes Customer.io last *accepted*,
in a store of its own (`people.store`; Firestore in the cloud). An identify
whose canonical attributes hash to the stored value is not sent.

Rules that keep this safe:
- the hash is written only after Customer.io accepted the identify, so a failed send is never
  skipped later;
- acceptance is not application: v2 answers 200 to an identify older than the profile's last
  update and ignores it. So each hash carries the time the identify applies at, and a store keeps
  the newer of two (`people.store.settle`), atomically against other instances; when two are too
  close to order, it keeps neither. The record is always the identify Customer.io applied last,
  or nothing;
- suppress, unsuppress, delete and merge forget the hash *before* they are sent, so a deleted and
  re-created person is identified again; if forgetting fails, the operation fails (and is retried)
  rather than leave a stale hash;
- a failing lookup never blocks an identify: it is sent, and the failure is logged. A failing
  record after the send must not leave the previous hash in place (it may hide the next change):
  the hash is forgotten instead, and if that fails too the message fails and is retried.
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

RECEIPT_WINDOW_S = 60.0
"""How far our clock at sending may be from Customer.io's time of receipt, which orders an
identify sent without a timestamp: request time, retries and clock skew, generously."""


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

    def remember(
        self,
        identifiers: Identifiers,
        attributes: Mapping[str, Any],
        *,
        update_only: bool = False,
        timestamp: float | None = None,
    ) -> None:
        """Record what Customer.io accepted. `timestamp`: the one the request carried, where
        Customer.io orders identifies by it (v2); without it, the time of sending stands in."""
        self._remember([((identifiers, attributes), timestamp)], update_only)

    def remember_many(self, people: Sequence[tuple[Identifiers, Mapping[str, Any], float | None]]) -> None:
        """`remember` for many people at once (bulk sync's v2 identifies, each with its timestamp)."""
        self._remember([((i, a), t) for i, a, t in people], False)

    def _remember(self, people: Sequence[tuple[Person, float | None]], update_only: bool) -> None:
        now = self._clock()
        hashes = {
            self.key(identifiers): StoredHash(
                self.digest(attributes, update_only),
                now + self._ttl_s,
                *((now, RECEIPT_WINDOW_S) if timestamp is None else (float(timestamp), 0.0)),
            )
            for (identifiers, attributes), timestamp in people
        }
        try:
            self._store.remember_many(hashes, now)
        except Exception as exc:
            log(logging.WARNING, "could not record attribute hashes; forgetting them", error_class=type(exc).__name__)
            self._store.delete_many(list(hashes))  # raises if the store is down: the message is retried

    def forget(self, *people: Identifiers) -> None:
        """Drop the stored hashes. Raises if the store fails: a stale hash must not survive."""
        self._store.delete_many([self.key(identifiers) for identifiers in people])
