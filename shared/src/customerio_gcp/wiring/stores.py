"""The Firestore-backed stores (or their in-memory stand-ins), for the functions that keep state:
identify (attribute hashes) and transactional (send-once records)."""

from __future__ import annotations

from customerio_gcp import firestore
from customerio_gcp.idempotency import IdempotencyStore, InMemoryStore
from customerio_gcp.people import HashStore, InMemoryHashStore
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
