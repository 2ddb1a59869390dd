"""Deterministic event ids, so a redelivered or replayed event is ignored by Customer.io.

Customer.io de-duplicates events on a ULID `id`. A ULID is 48 bits of milliseconds and 80 bits of
randomness; here the time part is the event's own timestamp and the "randomness" is a SHA-256 of
the event's canonical content (or of a caller-supplied event id). The same event therefore always
gets the same ULID, and the ULID still sorts by event time as ULIDs should.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ulid import ULID


def canonical_json(value: Any) -> bytes:
    """One byte string per logical value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def deterministic_ulid(timestamp_ms: int, seed: bytes) -> str:
    """A ULID whose time part is `timestamp_ms` and whose other 80 bits come from `seed`."""
    if not 0 <= timestamp_ms < 2**48:
        raise ValueError("timestamp out of the ULID range")
    entropy = hashlib.sha256(seed).digest()[:10]
    return str(ULID.from_bytes(timestamp_ms.to_bytes(6, "big") + entropy))


def event_ulid(timestamp_s: int, *, content: Any = None, caller_id: str | None = None) -> str:
    """The event's ULID: from the caller's own event id when given, else from its content."""
    seed = ("caller:" + caller_id).encode() if caller_id else b"content:" + canonical_json(content)
    return deterministic_ulid(timestamp_s * 1000, seed)
