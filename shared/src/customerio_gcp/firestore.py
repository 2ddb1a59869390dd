"""What the two Firestore-backed stores share: the client and store-safe document ids.

The send-once records (`idempotency.firestore_store`) and the per-person state
(`people.firestore_store`) live in separate collections with separate purposes; only this
plumbing is common. Importing this module does not import the Firestore client library.
"""

from __future__ import annotations

import hashlib
from typing import Any


def document_id(key: str) -> str:
    """A store-safe id for any key: Firestore ids cannot hold '/', and keys may be long or hold
    an email, which must not appear in plain text in the database."""
    return hashlib.sha256(key.encode()).hexdigest()


def client(project: str | None) -> Any:
    """A Firestore client; finds the emulator through FIRESTORE_EMULATOR_HOST like every Google
    client. Imported here, at first use, so functions that never touch Firestore never load it."""
    from google.cloud import firestore

    return firestore.Client(project=project)
