"""Packing v2 operations into requests under Customer.io's size limits.

A batch request must stay under 500 KB and each operation under 32 KB; no item count is
documented. Packing is greedy in order, so item indices map back to the caller's list and a 207's
`batch_index` (0-based within one request) can be translated to the caller's index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from customerio_gcp.customerio.errors import BatchItemFailure, LimitExceededError
from customerio_gcp.customerio.limits import V2_BATCH_MAX_BYTES, check_v2_operation
from customerio_gcp.customerio.v2 import Operation
from customerio_gcp.redaction import redact

_ENVELOPE_BYTES = len(b'{"batch":[]}')


@dataclass(frozen=True)
class Chunk:
    """One request's worth of operations and their positions in the caller's list."""

    indices: tuple[int, ...]
    operations: tuple[Operation, ...]
    size: int

    def body(self) -> dict[str, list[Operation]]:
        return {"batch": list(self.operations)}

    def map_failure(self, failure: BatchItemFailure) -> BatchItemFailure:
        """Translate a 207 item index (0-based within this request) to the caller's index."""
        index = self.indices[failure.index] if 0 <= failure.index < len(self.indices) else -1
        return BatchItemFailure(index, failure.reason, failure.field, failure.message)


@dataclass(frozen=True)
class Rejected:
    """An operation refused before sending because it breaks a documented limit."""

    index: int
    error: LimitExceededError

    def as_failure(self) -> BatchItemFailure:
        return BatchItemFailure(self.index, "limit", None, self.error.reason)


def pack(
    operations: Iterable[Operation], *, max_bytes: int = V2_BATCH_MAX_BYTES, start: int = 0
) -> Iterator[Chunk | Rejected]:
    """Yield chunks that each fit one request, and the operations that fit none, in order."""
    indices: list[int] = []
    ops: list[Operation] = []
    size = _ENVELOPE_BYTES
    for index, op in enumerate(operations, start=start):
        try:
            op_size = check_v2_operation(op)
        except LimitExceededError as exc:
            yield Rejected(index, exc)
            continue
        added = op_size + (1 if ops else 0)  # the comma between items
        if ops and size + added > max_bytes:
            yield Chunk(tuple(indices), tuple(ops), size)
            indices, ops, size = [], [], _ENVELOPE_BYTES
            added = op_size
        indices.append(index)
        ops.append(op)
        size += added
    if ops:
        yield Chunk(tuple(indices), tuple(ops), size)


def parse_207(body: object) -> Sequence[BatchItemFailure]:
    """Read `{"errors": [{batch_index, reason, field, message}]}` defensively."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    failures = []
    for item in body["errors"]:
        if not isinstance(item, dict):
            continue
        raw_index = item.get("batch_index")
        index = raw_index if isinstance(raw_index, int) else -1
        field = item.get("field")
        failures.append(
            BatchItemFailure(
                index,
                redact(str(item.get("reason") or "")),
                redact(str(field)) if field else None,
                redact(str(item.get("message") or "")),
            )
        )
    return failures
