"""Webhook signature checks that mutation testing (`make mutate`) showed were missing.

The reason a request is refused goes back to the sender as the 401 body (`str(exc)`, see
webhooks/handler.py), so its text is part of the contract, as is every boundary of the checks."""

from __future__ import annotations

import time

import pytest

from customerio_gcp.webhooks.signature import SignatureError, sign, signed_headers, verify

KEY = "whsec-current"
BODY = b'{"event_id":"01E4C4C6P79C12J5A6KPE6XNFD","metric":"sent"}'
NOW = 1_700_000_100


def refusal(headers: dict[str, str], now: float | None = NOW) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify(headers, BODY, [KEY], now=now)
    return caught.value


@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        ({}, "missing_headers", "X-CIO-Timestamp and X-CIO-Signature are required"),
        ({"X-CIO-Timestamp": "soon", "X-CIO-Signature": "ab"}, "bad_timestamp", "X-CIO-Timestamp must be unix seconds"),
        (signed_headers(BODY, KEY, NOW - 8 * 86400), "stale_timestamp", "timestamp is more than 7 days and 1 hour old"),
        (signed_headers(BODY, KEY, NOW + 3600), "future_timestamp", "timestamp is more than 5 minutes ahead"),
        (
            signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": "g" * 64},
            "bad_signature",
            "signature is not a hex HMAC-SHA256",
        ),
        (
            signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": "ab" * 31},  # hex, but 62 digits
            "bad_signature",
            "signature is not a hex HMAC-SHA256",
        ),
        (signed_headers(BODY, "another-key", NOW), "bad_signature", "signature does not match"),
    ],
)
def test_each_refusal_says_why_in_the_answer(headers: dict[str, str], code: str, message: str) -> None:
    error = refusal(headers)
    assert (error.code, str(error)) == (code, message)


def test_a_timestamp_is_at_most_twelve_digits() -> None:
    """Twelve digits are read as a time (then refused as far ahead); thirteen are not a time."""
    twelve = "9" * 12
    assert refusal({"X-CIO-Timestamp": twelve, "X-CIO-Signature": sign(BODY, KEY, int(twelve))}).code == (
        "future_timestamp"
    )
    assert refusal({"X-CIO-Timestamp": "1" + twelve, "X-CIO-Signature": "ab" * 32}).code == "bad_timestamp"


def test_without_now_the_clock_is_used_and_signed_headers_default_to_now() -> None:
    headers = signed_headers(BODY, KEY)
    assert abs(int(headers["X-CIO-Timestamp"]) - time.time()) < 5
    assert headers["X-CIO-Signature"] == sign(BODY, KEY, int(headers["X-CIO-Timestamp"]))
    verify(headers, BODY, [KEY])  # the real clock: a fresh signature passes
    stale = signed_headers(BODY, KEY, int(time.time()) - 8 * 86400)
    assert refusal(stale, now=None).code == "stale_timestamp"
