"""Customer.io's webhook signature: hex HMAC-SHA256 over `v0:<timestamp>:<raw body>`.

Verified over the raw bytes (never re-serialised JSON), in constant time, against every key
given, so the signing key can be rotated without dropping events: during a rotation both the
current and the next key are accepted. Hex is assumed for the digest encoding, as community
verifiers use (UNCONFIRMED in the docs).

The time window is wide on purpose: up to 7 days + 1 hour old, at most 5 minutes ahead.
Customer.io retries a failed webhook for up to 7 days and holds every later event behind it; it
does not document whether a retry is re-signed with a fresh timestamp. If it keeps the original,
a tight window (standard-webhooks' 5 minutes) would turn any outage of ours longer than that into
a permanent 401 for the retried event, which Customer.io drops after a week, and every event queued
behind it would wait that week. A replay inside the window is harmless: every event carries an
`event_id` that de-duplicates downstream (the `events_unique` view, the routing consumers). The
future bound stays tight, as clocks are synchronised and nothing legitimate is signed ahead.

Header values come from the network: anything not ASCII digits (a timestamp) or 64 hex digits (a
signature) is refused as such, never compared, so no input can make the check raise.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

TIMESTAMP_HEADER = "x-cio-timestamp"
SIGNATURE_HEADER = "x-cio-signature"
MAX_AGE_S = 7 * 24 * 3600 + 3600
MAX_AHEAD_S = 300
HEX_DIGITS = frozenset("0123456789abcdef")


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
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()) or len(raw_timestamp) > 12:
        raise SignatureError("bad_timestamp", "X-CIO-Timestamp must be unix seconds")
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if current - timestamp > MAX_AGE_S:
        raise SignatureError("stale_timestamp", "timestamp is more than 7 days and 1 hour old")
    if timestamp - current > MAX_AHEAD_S:
        raise SignatureError("future_timestamp", "timestamp is more than 5 minutes ahead")
    if len(signature) != 64 or not set(signature) <= HEX_DIGITS:
        raise SignatureError("bad_signature", "signature is not a hex HMAC-SHA256")
    matched = False
    for key in keys:
        if key:
            # No early exit: every key is compared, so timing does not reveal which one matched.
            matched |= hmac.compare_digest(sign(body, key, timestamp).encode(), signature.encode())
    if not matched:
        raise SignatureError("bad_signature", "signature does not match")
