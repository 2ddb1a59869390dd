"""What webhook-ingest keeps when it cannot parse what Customer.io signed.

A signed body that is not JSON, not an event or an array of events, or an array item that fails
validation, is quarantined whole: the exact bytes, the reason (field names and error types only,
never values) and when it came, published to the quarantine topic. It is answered 2xx all the
same — refusing it would hold every later event at Customer.io for up to a week — counted and
alerted on, and re-processed after a schema fix by `customerio-gcp webhooks reprocess`, which
re-parses it with the code of the day and publishes what now passes to the events topic.

Pub/Sub takes messages of at most 10 MB (and gRPC clients receive 4 MiB by default) while a body
may be up to 32 MiB, so a large piece is split into chunks sharing a `quarantine_id`;
`reassemble` puts them back together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CHUNK_BYTES = 3 * 1024 * 1024  # under gRPC's default 4 MiB receive limit, so any subscriber can pull them


@dataclass(frozen=True)
class Quarantined:
    data: bytes
    reason: str
    kind: str  # "body": the whole request; "item": one element of a JSON array
    received_at: float

    def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        """The Pub/Sub messages that keep it: data and attributes, chunked under the size limit."""
        quarantine_id = hashlib.sha256(self.data).hexdigest()[:32]
        chunks = [self.data[i : i + CHUNK_BYTES] for i in range(0, len(self.data), CHUNK_BYTES)] or [b""]
        attributes = {
            "reason": self.reason[:500],
            "kind": self.kind,
            "received_at": f"{self.received_at:.3f}",
            "quarantine_id": quarantine_id,
            "chunks": str(len(chunks)),
        }
        return [(chunk, attributes | {"chunk": str(n)}) for n, chunk in enumerate(chunks)]


def reassemble(messages: Iterable[tuple[bytes, Mapping[str, str]]]) -> dict[str, tuple[bytes, Mapping[str, str]]]:
    """Complete quarantined pieces by `quarantine_id`; a piece still missing chunks is left out."""
    parts: dict[str, dict[int, bytes]] = {}
    attributes: dict[str, Mapping[str, str]] = {}
    for data, attrs in messages:
        qid = attrs.get("quarantine_id", "")
        parts.setdefault(qid, {})[int(attrs.get("chunk", "0"))] = data
        attributes[qid] = attrs
    complete = {}
    for qid, chunks in parts.items():
        expected = int(attributes[qid].get("chunks", "1"))
        if len(chunks) == expected:
            complete[qid] = (b"".join(chunks[n] for n in range(expected)), attributes[qid])
    return complete
