"""Idempotency records in Firestore: a conditional create, and token-checked transactions.

Documents hold `expires_at` as a timestamp so a Firestore TTL policy (set up by Terraform on the
collection) deletes old records; until it does, the guard treats an expired record as absent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from customerio_gcp.firestore import document_id
from customerio_gcp.idempotency.records import IdempotencyRecord, Status


class FirestoreStore:
    def __init__(self, client: firestore.Client, collection: str = "customerio_idempotency") -> None:
        self._client = client
        self._collection = client.collection(collection)

    def _ref(self, key: str) -> firestore.DocumentReference:
        return self._collection.document(document_id(key))

    def create(self, record: IdempotencyRecord) -> bool:
        try:
            self._ref(record.key).create(_to_doc(record))
        except AlreadyExists:
            return False
        return True

    def get(self, key: str) -> IdempotencyRecord | None:
        snapshot = self._ref(key).get()
        return _from_doc(key, snapshot.to_dict()) if snapshot.exists else None

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        ref = self._ref(record.key)

        @firestore.transactional
        def swap(transaction: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or (snapshot.to_dict() or {}).get("token") != expected_token:
                return False
            transaction.set(ref, _to_doc(record))
            return True

        result: bool = swap(self._client.transaction())
        return result

    def delete(self, key: str, *, expected_token: str) -> bool:
        ref = self._ref(key)

        @firestore.transactional
        def remove(transaction: firestore.Transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or (snapshot.to_dict() or {}).get("token") != expected_token:
                return False
            transaction.delete(ref)
            return True

        result: bool = remove(self._client.transaction())
        return result


def _to_doc(record: IdempotencyRecord) -> dict[str, Any]:
    # The key itself is not stored (it may hold an email): documents are found by its hash.
    return {
        "status": record.status.value,
        "payload_hash": record.payload_hash,
        "token": record.token,
        "lease_expires_at": datetime.fromtimestamp(record.lease_expires_at, UTC),
        "expires_at": datetime.fromtimestamp(record.expires_at, UTC),
        "result": record.result,
    }


def _from_doc(key: str, doc: dict[str, Any] | None) -> IdempotencyRecord | None:
    if not doc:
        return None
    return IdempotencyRecord(
        key=key,
        status=Status(doc["status"]),
        payload_hash=doc["payload_hash"],
        token=doc["token"],
        lease_expires_at=doc["lease_expires_at"].timestamp(),
        expires_at=doc["expires_at"].timestamp(),
        result=doc.get("result"),
    )
