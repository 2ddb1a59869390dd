"""Per-person state in Firestore: one document per person key in a collection of its purpose,
`expires_at` for the TTL policy. Keys (which may hold an email) are stored only as hashes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from customerio_gcp.batched_reads import BatchedReads
from customerio_gcp.firestore import delete_documents, find_documents, read_documents, timestamp, write_documents
from customerio_gcp.people.store import StoredHash, Tombstone


class FirestoreHashStore:
    def __init__(self, client: Any, collection: str = "customerio_identify_hashes") -> None:
        self._client = client
        self._collection = collection
        self._reads = BatchedReads(lambda keys: read_documents(client, collection, keys))

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        """Read together with the instance's concurrent lookups (`batched_reads`)."""
        docs = self._reads.get_many(keys)
        return {key: StoredHash(doc["digest"], doc["expires_at"].timestamp()) for key, doc in docs.items()}

    def put_many(self, hashes: Mapping[str, StoredHash]) -> None:
        docs = {key: {"digest": h.digest, "expires_at": timestamp(h.expires_at)} for key, h in hashes.items()}
        write_documents(self._client, self._collection, docs)

    def delete_many(self, keys: Iterable[str]) -> None:
        delete_documents(self._client, self._collection, keys)


class FirestoreTombstoneStore:
    def __init__(self, client: Any, collection: str = "customerio_tombstones") -> None:
        self._client = client
        self._collection = collection
        # Queries, not gets: most people have no tombstone, and a query that finds nothing is
        # one billed read for up to 30 lookups (`firestore.find_documents`).
        self._reads = BatchedReads(lambda keys: find_documents(client, collection, keys))

    def get_many(self, keys: Sequence[str]) -> dict[str, Tombstone]:
        """Read together with the instance's concurrent lookups (`batched_reads`): every message
        checks its person's tombstone before anything is sent."""
        docs = self._reads.get_many(keys)
        return {
            key: Tombstone(doc["deleted_at"].timestamp(), doc["expires_at"].timestamp()) for key, doc in docs.items()
        }

    def put_many(self, tombstones: Mapping[str, Tombstone]) -> None:
        docs = {
            key: {"deleted_at": timestamp(t.deleted_at), "expires_at": timestamp(t.expires_at)}
            for key, t in tombstones.items()
        }
        write_documents(self._client, self._collection, docs)
