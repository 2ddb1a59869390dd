"""Customer.io's webhook signature: hex HMAC-SHA256 over `v0:<timestamp>:<raw body>`.

Verified over the raw bytes (never re-serialised JSON), in constant time, against every key
given, so the signing key can be rotated without dropping events: during a rotation both the
current and the next key are accepted. A timestamp more than five minutes from now, in either
direction, is refused (Customer.io documents no tolerance; this is standard-webhooks' rule).
Hex is assumed for the digest encoding, as community verifiers use (UNCONFIRMED in the docs).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

TIMESTAMP_HEADER = "x-cio-timestamp"
SIGNATURE_HEADER = "x-cio-signature"
TOLERANCE_S = 300


class SignatureError(Exception):
    """Why a request is not trusted. `code` is a metric label; neither holds request content."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sign(body: bytes, key: str, timestamp: int) -> str:
    payload = b"v0:" + str(timestamp).encode() + b":" + body
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, key: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Customer.io would send with `body` (for tests, demos and replays)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"X-CIO-Timestamp": str(stamp), "X-CIO-Signature": sign(body, key, stamp)}


def verify(headers: Mapping[str, str], body: bytes, keys: Sequence[str], *, now: float | None = None) -> None:
    """Raise `SignatureError` unless one of `keys` signed `body` within the tolerance."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER, "").strip()
    signature = lowered.get(SIGNATURE_HEADER, "").strip().lower()
    if not raw_timestamp or not signature:
        raise SignatureError("missing_headers", "X-CIO-Timestamp and X-CIO-Signature are required")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SignatureError("bad_timestamp", "X-CIO-Timestamp must be unix seconds")
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_S:
        raise SignatureError("stale_timestamp", "timestamp is more than 5 minutes from now")
    matched = False
    for key in keys:
        if key:
            # No early exit: every key is compared, so timing does not reveal which one matched.
            matched |= hmac.compare_digest(sign(body, key, timestamp), signature)
    if not matched:
        raise SignatureError("bad_signature", "signature does not match")
