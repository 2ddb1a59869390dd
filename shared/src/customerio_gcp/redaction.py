"""Scrub personal data from free text before it reaches a log line or an error message.

Error texts that come back from Customer.io may echo what we sent (an email in "email is
invalid: ..."), so every foreign string passes through `redact` before we keep it. Our own
messages are built without personal data in the first place; this is the second line.
"""

from __future__ import annotations

import hashlib
import re

_EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")
# Seven or more digits, optionally with a leading + and separators: phone numbers, card-like runs.
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_MAX_REASON = 200


def redact(text: str, limit: int = _MAX_REASON) -> str:
    """Mask emails and phone-like numbers, and cap the length of a foreign text."""
    cleaned = _EMAIL.sub("<email>", text)
    cleaned = _PHONE.sub("<number>", cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def fingerprint(value: str) -> str:
    """A short stable hash that lets logs correlate one person without naming them."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:16]
