"""Attribute hashes in Firestore: one document per person key, `expires_at` for the TTL policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from customerio_gcp.firestore import document_id
from customerio_gcp.people.store import StoredHash

BATCH = 300  # documents per batched read or write (Firestore allows 500 writes per batch)


class FirestoreHashStore:
    def __init__(self, client: Any, collection: str = "customerio_identify_hashes") -> None:
        self._client = client
        self._collection = client.collection(collection)

    def _ref(self, key: str) -> Any:
        return self._collection.document(document_id(key))

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        found: dict[str, StoredHash] = {}
        by_id = {document_id(key): key for key in keys}
        ids = list(by_id)
        for start in range(0, len(ids), BATCH):
            refs = [self._collection.document(i) for i in ids[start : start + BATCH]]
            for snapshot in self._client.get_all(refs):
                doc = snapshot.to_dict() if snapshot.exists else None
                if doc:
                    found[by_id[snapshot.id]] = StoredHash(doc["digest"], doc["expires_at"].timestamp())
        return found

    def put_many(self, hashes: Mapping[str, StoredHash]) -> None:
        items = list(hashes.items())
        for start in range(0, len(items), BATCH):
            batch = self._client.batch()
            for key, stored in items[start : start + BATCH]:
                doc = {"digest": stored.digest, "expires_at": datetime.fromtimestamp(stored.expires_at, UTC)}
                batch.set(self._ref(key), doc)
            batch.commit()

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = self._client.batch()
        for key in keys:
            batch.delete(self._ref(key))
        batch.commit()
