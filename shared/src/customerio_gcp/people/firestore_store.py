"""Per-person state in Firestore: one document per person key in a collection of its purpose,
`expires_at` for the TTL policy. Keys (which may hold an email) are stored only as hashes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from customerio_gcp.batched_reads import BatchedReads
from customerio_gcp.firestore import BATCH, delete_documents, document_id, read_documents, timestamp, write_documents
from customerio_gcp.people.store import StoredHash, Tombstone, settle


class FirestoreHashStore:
    def __init__(self, client: Any, collection: str = "customerio_identify_hashes") -> None:
        self._client = client
        self._collection = collection
        self._reads = BatchedReads(lambda keys: read_documents(client, collection, keys))

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        """Read together with the instance's concurrent lookups (`batched_reads`)."""
        return {key: _stored_hash(doc) for key, doc in self._reads.get_many(keys).items()}

    def remember_many(self, hashes: Mapping[str, StoredHash], now: float) -> None:
        """One transaction per few hundred people: read what is stored, write what `settle`
        decides. Firestore retries the transaction when another instance wrote one of these
        documents in between, so the newer identify's hash wins whatever the interleaving."""
        from google.cloud import firestore

        items = list(hashes.items())
        for start in range(0, len(items), BATCH):
            chunk = dict(items[start : start + BATCH])
            refs = {key: self._client.collection(self._collection).document(document_id(key)) for key in chunk}

            @firestore.transactional
            def settle_all(transaction: Any, chunk: dict[str, StoredHash] = chunk, refs: dict[str, Any] = refs) -> None:
                by_id = {
                    snapshot.id: _stored_hash(snapshot.to_dict())
                    for snapshot in self._client.get_all(list(refs.values()), transaction=transaction)
                    if snapshot.exists
                }
                for key, new in chunk.items():
                    stored = by_id.get(refs[key].id)
                    kept = settle(stored, new, now)
                    if kept is None:
                        if stored is not None:
                            transaction.delete(refs[key])
                    elif kept is new:
                        transaction.set(refs[key], _hash_doc(new))

            settle_all(self._client.transaction())

    def delete_many(self, keys: Iterable[str]) -> None:
        delete_documents(self._client, self._collection, keys)


def _hash_doc(stored: StoredHash) -> dict[str, Any]:
    return {"digest": stored.digest, "expires_at": timestamp(stored.expires_at), "at": stored.at,
            "window": stored.window}  # fmt: skip


def _stored_hash(doc: dict[str, Any]) -> StoredHash:
    # Records written before `at` existed order before everything: any new identify replaces them.
    return StoredHash(doc["digest"], doc["expires_at"].timestamp(), float(doc.get("at", 0.0)),
                      float(doc.get("window", 0.0)))  # fmt: skip


class FirestoreTombstoneStore:
    def __init__(self, client: Any, collection: str = "customerio_tombstones") -> None:
        self._client = client
        self._collection = collection
        self._reads = BatchedReads(lambda keys: read_documents(client, collection, keys))

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
