"""Customer.io's documented limits, as the sandbox enforces them: its own statement.

Deliberately not imported from the runtime's `customerio_gcp.customerio.limits`: the sandbox is the
stand-in for Customer.io, so a wrong limit in the client must be caught by it, not agreed with.

Sources (docs.customer.io, Track API reference "Limits", and the v2 `/entity` and `/batch` pages):
identifier 150 bytes; attribute name 150 bytes; attribute value 1000 bytes; 300 attributes per
call; event name 100 bytes; event data 100,000 bytes; a v2 operation 32 KB and a v2 batch request
500 KB; transactional attachments under 2 MB in all; broadcast audiences of up to 10,000 ids,
emails or per-user data entries. Customer.io does not say whether "KB" is 1,000 or 1,024 bytes: the
sandbox takes the larger, server-side reading (KiB), so it refuses only what Customer.io would
certainly refuse, while the client stays on the conservative side of the ambiguity.
"""

from __future__ import annotations

import json
from typing import Any

IDENTIFIER_MAX_BYTES = 150
ATTRIBUTE_NAME_MAX_BYTES = 150
ATTRIBUTE_VALUE_MAX_BYTES = 1000
ATTRIBUTES_MAX_COUNT = 300
EVENT_NAME_MAX_BYTES = 100
EVENT_DATA_MAX_BYTES = 100_000
V2_OPERATION_MAX_BYTES = 32 * 1024
V2_BATCH_MAX_BYTES = 500 * 1024
ATTACHMENTS_MAX_BYTES = 2_000_000
BROADCAST_AUDIENCE_MAX = 10_000


def json_size(value: Any) -> int:
    """Bytes of the compact JSON encoding of a value, as it travels in a request body."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
