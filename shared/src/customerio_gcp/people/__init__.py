"""Per-person state the pipeline keeps beside Customer.io: the hash of the attributes Customer.io
last accepted, so unchanged identifies are skipped (`attribute_hashes`)."""

from customerio_gcp.people.attribute_hashes import AttributeHashes
from customerio_gcp.people.store import HashStore, InMemoryHashStore, StoredHash

__all__ = ["AttributeHashes", "HashStore", "InMemoryHashStore", "StoredHash"]
