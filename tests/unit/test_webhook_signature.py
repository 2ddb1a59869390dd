"""Signature vectors for Customer.io's reporting webhook (hex HMAC-SHA256 over v0:ts:body)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from customerio_gcp.webhooks.signature import MAX_AGE_S, SignatureError, sign, signed_headers, verify

KEY = "whsec-current"
NEXT = "whsec-next"
BODY = b'{"event_id":"01E4C4C6P79C12J5A6KPE6XNFD","object_type":"email","metric":"sent","timestamp":1700000000}'
NOW = 1_700_000_100


def test_known_vector() -> None:
    expected = hmac.new(KEY.encode(), b"v0:1700000000:" + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, KEY, 1_700_000_000) == expected


def test_valid_signature() -> None:
    verify(signed_headers(BODY, KEY, NOW), BODY, [KEY], now=NOW)


def test_headers_are_case_insensitive_and_hex_case_does_not_matter() -> None:
    headers = signed_headers(BODY, KEY, NOW)
    verify(
        {"x-cio-timestamp": headers["X-CIO-Timestamp"], "X-Cio-Signature": headers["X-CIO-Signature"].upper()},
        BODY,
        [KEY],
        now=NOW,
    )


def test_either_key_is_accepted_during_a_rotation() -> None:
    verify(signed_headers(BODY, NEXT, NOW), BODY, [KEY, NEXT], now=NOW)
    verify(signed_headers(BODY, KEY, NOW), BODY, [KEY, NEXT], now=NOW)


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        (signed_headers(BODY, KEY, NOW), BODY + b" ", "bad_signature"),  # tampered body
        (
            signed_headers(BODY, KEY, NOW) | {"X-CIO-Timestamp": str(NOW + 1)},
            BODY,
            "bad_signature",
        ),  # tampered timestamp
        (signed_headers(BODY, "someone-else", NOW), BODY, "bad_signature"),  # wrong key
        (signed_headers(BODY, KEY, NOW - MAX_AGE_S - 1), BODY, "stale_timestamp"),
        (signed_headers(BODY, KEY, NOW + 301), BODY, "future_timestamp"),
        ({}, BODY, "missing_headers"),
        ({"X-CIO-Signature": sign(BODY, KEY, NOW)}, BODY, "missing_headers"),
        ({"X-CIO-Timestamp": str(NOW)}, BODY, "missing_headers"),
        ({"X-CIO-Timestamp": "yesterday", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),
        ({"X-CIO-Timestamp": "-5", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),
        ({"X-CIO-Timestamp": "²", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),  # isdigit() says yes
        ({"X-CIO-Timestamp": "١٧٠٠٠٠٠١٠٠", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),  # Arabic-Indic
        (signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": "é" * 64}, BODY, "bad_signature"),  # not ASCII
        (signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": sign(BODY, KEY, NOW)[:63]}, BODY, "bad_signature"),
        (signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": sign(BODY, KEY, NOW) + "0"}, BODY, "bad_signature"),
    ],
)
def test_refusals(headers: dict[str, str], body: bytes, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(headers, body, [KEY], now=NOW)
    assert caught.value.code == code


def test_window_edges() -> None:
    """Customer.io may retry for 7 days, perhaps with the original timestamp (undocumented):
    anything up to 7 days + 1 h old is accepted; at most 5 minutes ahead."""
    verify(signed_headers(BODY, KEY, NOW - MAX_AGE_S), BODY, [KEY], now=NOW)
    verify(signed_headers(BODY, KEY, NOW - 7 * 24 * 3600), BODY, [KEY], now=NOW)
    verify(signed_headers(BODY, KEY, NOW + 300), BODY, [KEY], now=NOW)


@pytest.mark.parametrize("position", [0, 7, 8, 31, 63])
def test_every_hex_digit_of_the_signature_counts(position: int) -> None:
    """A comparison of only a prefix (or of anything less than the whole digest) must fail."""
    good = sign(BODY, KEY, NOW)
    flipped = good[:position] + ("0" if good[position] != "0" else "1") + good[position + 1 :]
    with pytest.raises(SignatureError) as caught:
        verify(signed_headers(BODY, KEY, NOW) | {"X-CIO-Signature": flipped}, BODY, [KEY], now=NOW)
    assert caught.value.code == "bad_signature"


def test_an_empty_key_never_matches() -> None:
    with pytest.raises(SignatureError):
        verify(signed_headers(BODY, "", NOW), BODY, ["", KEY + "x"], now=NOW)
