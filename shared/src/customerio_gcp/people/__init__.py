"""Per-person state the pipeline keeps beside Customer.io, workspace-scoped: the hash of the
attributes Customer.io last accepted (`attribute_hashes`: skip unchanged identifies) and deletion
tombstones (`tombstones`: a deleted person stays deleted whatever the order of delivery)."""

from customerio_gcp.people.attribute_hashes import AttributeHashes
from customerio_gcp.people.keys import Workspace, workspace_id
from customerio_gcp.people.store import (
    HashStore,
    InMemoryHashStore,
    InMemoryTombstoneStore,
    StoredHash,
    Tombstone,
    TombstoneStore,
)
from customerio_gcp.people.tombstones import Tombstones

__all__ = [
    "AttributeHashes",
    "HashStore",
    "InMemoryHashStore",
    "InMemoryTombstoneStore",
    "StoredHash",
    "Tombstone",
    "TombstoneStore",
    "Tombstones",
    "Workspace",
    "workspace_id",
]
