"""What the two Firestore-backed stores share: the client and store-safe document ids.

The send-once records (`idempotency.firestore_store`) and the per-person state
(`people.firestore_store`) live in separate collections with separate purposes; only this
plumbing is common. Importing this module does not import the Firestore client library.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def document_id(key: str) -> str:
    """A store-safe id for any key: Firestore ids cannot hold '/', and keys may be long or hold
    an email, which must not appear in plain text in the database."""
    return hashlib.sha256(key.encode()).hexdigest()


_clients: dict[tuple[str | None, str | None], Any] = {}
_clients_lock = threading.Lock()


def client(project: str | None) -> Any:
    """The process's Firestore client for `project`; finds the emulator through
    FIRESTORE_EMULATOR_HOST like every Google client. One per process, so a function's stores
    (tombstones and hashes, or tombstones and send-once records) share one channel and one set
    of credentials: a cold start opens one connection and fetches one token, not two. Imported
    here, at first use, so functions that never touch Firestore never load it."""
    key = (project, os.environ.get("FIRESTORE_EMULATOR_HOST"))
    with _clients_lock:
        if key not in _clients:
            from google.cloud import firestore

            _clients[key] = firestore.Client(project=project)
        return _clients[key]


BATCH = 300  # documents per batched read or write (Firestore allows 500 writes per batch)


def read_documents(client: Any, collection: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The documents that exist among `keys`, by key, a few hundred per round trip."""
    return _existing(keys, BATCH, lambda refs: client.get_all(refs), client.collection(collection))


def _existing(
    keys: Sequence[str], per_read: int, read: Callable[[list[Any]], Iterable[Any]], documents: Any
) -> dict[str, dict[str, Any]]:
    """`keys` to document ids, `read` them `per_read` at a time, and keep what exists, by key."""
    found: dict[str, dict[str, Any]] = {}
    by_id = {document_id(key): key for key in keys}
    ids = list(by_id)
    for start in range(0, len(ids), per_read):
        for snapshot in read([documents.document(i) for i in ids[start : start + per_read]]):
            doc = snapshot.to_dict() if snapshot.exists else None
            if doc:
                found[by_id[snapshot.id]] = doc
    return found


IN_QUERY_VALUES = 30  # the most values one Firestore `in` filter takes


def find_documents(client: Any, collection: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The documents that exist among `keys`, by key, found with document-id `in` queries.

    For lookups that mostly find nothing (few people have a deletion tombstone), a query is the
    cheaper read: Firestore bills a query one read per document returned, with "a minimum charge
    of one document read for each query … even if the query returns no results" (its pricing
    page), while a batched get is billed per document asked for (the pricing page is silent on
    documents not found; users report them billed). So up to 30 lookups that find nothing cost
    one read instead of up to 30. Reads are strongly consistent in Firestore's native mode,
    queries like gets: a document committed before the query is found. The chunks go one after
    another: a lookup of 80 people is three round trips."""
    from google.cloud.firestore_v1.base_query import FieldFilter
    from google.cloud.firestore_v1.field_path import FieldPath

    documents = client.collection(collection)

    def query(refs: list[Any]) -> Iterable[Any]:
        snapshots: Iterable[Any] = documents.where(filter=FieldFilter(FieldPath.document_id(), "in", refs)).stream()
        return snapshots

    return _existing(keys, IN_QUERY_VALUES, query, documents)


def write_documents(client: Any, collection: str, documents: Mapping[str, dict[str, Any]]) -> None:
    """Set each document under its key's id, replacing what was there, in batched writes."""
    items = list(documents.items())
    for start in range(0, len(items), BATCH):
        batch = client.batch()
        for key, doc in items[start : start + BATCH]:
            batch.set(client.collection(collection).document(document_id(key)), doc)
        batch.commit()


def delete_documents(client: Any, collection: str, keys: Iterable[str]) -> None:
    batch = client.batch()
    for key in keys:
        batch.delete(client.collection(collection).document(document_id(key)))
    batch.commit()


def timestamp(unix_seconds: float) -> datetime:
    """A Firestore timestamp field (what a TTL policy reads) from unix seconds."""
    return datetime.fromtimestamp(unix_seconds, UTC)
