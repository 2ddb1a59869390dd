"""Signature vectors for Customer.io's reporting webhook (hex HMAC-SHA256 over v0:ts:body)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from customerio_gcp.webhooks.signature import SignatureError, sign, signed_headers, verify

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
        (signed_headers(BODY, KEY, NOW - 301), BODY, "stale_timestamp"),
        (signed_headers(BODY, KEY, NOW + 301), BODY, "stale_timestamp"),  # from the future
        ({}, BODY, "missing_headers"),
        ({"X-CIO-Signature": sign(BODY, KEY, NOW)}, BODY, "missing_headers"),
        ({"X-CIO-Timestamp": str(NOW)}, BODY, "missing_headers"),
        ({"X-CIO-Timestamp": "yesterday", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),
        ({"X-CIO-Timestamp": "-5", "X-CIO-Signature": "ab"}, BODY, "bad_timestamp"),
    ],
)
def test_refusals(headers: dict[str, str], body: bytes, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(headers, body, [KEY], now=NOW)
    assert caught.value.code == code


def test_tolerance_edges() -> None:
    verify(signed_headers(BODY, KEY, NOW - 300), BODY, [KEY], now=NOW)
    verify(signed_headers(BODY, KEY, NOW + 300), BODY, [KEY], now=NOW)


def test_an_empty_key_never_matches() -> None:
    with pytest.raises(SignatureError):
        verify(signed_headers(BODY, "", NOW), BODY, ["", KEY + "x"], now=NOW)
