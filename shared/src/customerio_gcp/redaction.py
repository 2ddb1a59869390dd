"""Scrub personal data from free text before it reaches a log line or an error message.

Error texts that come back from Customer.io may echo what we sent (an email in "email is
invalid: ..."), so every foreign string passes through `redact` before we keep it. Our own
messages are built without personal data in the first place; this is the second line.
"""

from __future__ import annotations

import hashlib
import re

# An address as it appears in text, or URL-encoded in a link (`%40`).
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.IGNORECASE)
# Seven or more digits, optionally with a leading + and separators: phone numbers, card-like runs.
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_MAX_REASON = 200


def _number(match: re.Match[str]) -> str:
    """Seven digits or more is a phone number (or worse); "550 5.1.1", an SMTP code, is not."""
    text = match.group(0)
    return "<number>" if sum(c.isdigit() for c in text) >= 7 else text


def redact(text: str, limit: int = _MAX_REASON) -> str:
    """Mask emails and phone-like numbers, and cap the length of a foreign text."""
    cleaned = _EMAIL.sub("<email>", text)
    cleaned = _PHONE.sub(_number, cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def fingerprint(value: str) -> str:
    """A short stable hash that lets logs correlate one person without naming them."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:16]
