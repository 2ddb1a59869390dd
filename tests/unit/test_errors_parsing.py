from __future__ import annotations

import email.utils

import httpx
import pytest

from customerio_gcp.customerio.errors import (
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RefusedError,
    ServerError,
    describe_error_body,
    error_from_response,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"meta": {"errors": ["attribute value too long"]}}', "attribute value too long"),
        (b'{"meta": {"error": "Unauthorized request"}}', "Unauthorized request"),
        (
            b'{"errors": [{"reason": "invalid", "field": "identifiers", "message": "missing"}]}',
            "invalid identifiers missing",
        ),
        (b"Unauthorized", "Unauthorized"),
        (b"<html><body>Bad gateway</body></html>", "<html><body>Bad gateway</body></html>"),
        (b"", ""),
        (b"[1, 2]", "[1, 2]"),
        (b'{"meta": {"error": "email ada@example.com is taken"}}', "email <email> is taken"),
        (b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8"),
    ],
)
def test_error_bodies_are_read_defensively(body: bytes, expected: str) -> None:
    assert describe_error_body(body) == expected


def test_long_bodies_are_capped() -> None:
    assert len(describe_error_body(b"x" * 10_000)) == 200


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (409, RefusedError),
        (429, RateLimitedError),
        (500, ServerError),
        (524, ServerError),
    ],
)
def test_classification(status: int, kind: type) -> None:
    error = error_from_response(httpx.Response(status, content=b"{}"))
    assert type(error) is kind
    assert error.retryable == (status in (429, 500, 524))


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after("-5") == 0.0
