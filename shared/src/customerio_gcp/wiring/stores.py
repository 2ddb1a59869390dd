"""The Firestore-backed stores (or their in-memory stand-ins): send-once records (transactional),
attribute hashes (identify) and deletion tombstones (every delivery function)."""

from __future__ import annotations

from customerio_gcp import firestore
from customerio_gcp.idempotency import IdempotencyStore, InMemoryStore
from customerio_gcp.people import HashStore, InMemoryHashStore, InMemoryTombstoneStore, TombstoneStore
from customerio_gcp.settings import Settings


def build_idempotency_store(settings: Settings) -> IdempotencyStore:
    """The configured backend for send-once records."""
    if settings.idempotency_backend == "memory":
        return InMemoryStore()
    from customerio_gcp.idempotency.firestore_store import FirestoreStore

    return FirestoreStore(firestore.client(settings.project), settings.idempotency_collection)


def build_hash_store(settings: Settings) -> HashStore:
    """The configured backend for unchanged-identify hashes (the same backend setting)."""
    if settings.idempotency_backend == "memory":
        return InMemoryHashStore()
    from customerio_gcp.people.firestore_store import FirestoreHashStore

    return FirestoreHashStore(firestore.client(settings.project), settings.identify_hash_collection)


def build_tombstone_store(settings: Settings) -> TombstoneStore:
    """The configured backend for deletion tombstones (the same backend setting)."""
    if settings.idempotency_backend == "memory":
        return InMemoryTombstoneStore()
    from customerio_gcp.people.firestore_store import FirestoreTombstoneStore

    return FirestoreTombstoneStore(firestore.client(settings.project), settings.tombstone_collection)
