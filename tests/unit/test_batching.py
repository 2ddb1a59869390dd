from __future__ import annotations

import json

from customerio_gcp.customerio import Identifiers, v2
from customerio_gcp.customerio.batching import Chunk, Rejected, pack, parse_207
from customerio_gcp.customerio.errors import BatchItemFailure
from customerio_gcp.customerio.limits import V2_BATCH_MAX_BYTES


def test_chunks_fill_close_to_the_limit_and_never_over() -> None:
    ops = [v2.identify(Identifiers(id=f"user-{i}"), {"bio": "x" * 900, "plan": "pro"}) for i in range(2000)]
    parts = list(pack(ops))
    chunks = [p for p in parts if isinstance(p, Chunk)]
    assert sum(len(c.indices) for c in chunks) == 2000
    for chunk in chunks:
        exact = len(json.dumps(chunk.body(), separators=(",", ":")).encode())
        assert exact == chunk.size <= V2_BATCH_MAX_BYTES
    assert all(c.size > V2_BATCH_MAX_BYTES - 1000 for c in chunks[:-1])
    assert [i for c in chunks for i in c.indices] == list(range(2000))


def test_oversized_operations_are_rejected_in_place() -> None:
    ops = [v2.identify(Identifiers(id="a"), {}), {"type": "person", "attributes": {"x": "y" * 33_000}}]
    parts = list(pack(ops, start=10))
    assert isinstance(parts[0], Rejected) and parts[0].index == 11
    assert isinstance(parts[1], Chunk) and parts[1].indices == (10,)


def test_207_items_map_to_caller_indices() -> None:
    chunk = Chunk((4, 7, 9), ({}, {}, {}), 10)
    failures = parse_207(
        {"errors": [{"batch_index": 2, "reason": "invalid", "field": "x", "message": "ada@example.com bad"}, "junk"]}
    )
    assert [chunk.map_failure(f) for f in failures] == [BatchItemFailure(9, "invalid", "x", "<email> bad")]
    assert parse_207("not a dict") == []
