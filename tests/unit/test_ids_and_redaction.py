from __future__ import annotations

from ulid import ULID

from customerio_gcp.ids import canonical_json, content_hash, deterministic_ulid, event_ulid
from customerio_gcp.redaction import fingerprint, redact


def test_canonical_json_ignores_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, {"y": 2, "x": 1}]}) == canonical_json({"a": [1, {"x": 1, "y": 2}], "b": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_event_ulid_is_deterministic_and_time_ordered() -> None:
    one = event_ulid(1_700_000_000, content={"n": 1})
    assert one == event_ulid(1_700_000_000, content={"n": 1})
    assert one != event_ulid(1_700_000_000, content={"n": 2})
    assert ULID.from_str(one).milliseconds == 1_700_000_000_000
    assert event_ulid(1_700_000_001, content={"n": 1}) > one
    assert event_ulid(5, caller_id="a") != event_ulid(5, content="a")


def test_deterministic_ulid_rejects_out_of_range_time() -> None:
    import pytest

    with pytest.raises(ValueError, match="range"):
        deterministic_ulid(2**48, b"x")


def test_redact_masks_emails_and_numbers() -> None:
    text = "user Ada.Lovelace+x@Example.co.uk called +44 20 7946 0958 about order 12"
    assert redact(text) == "user <email> called <number> about order 12"


def test_fingerprint_is_stable_and_case_insensitive() -> None:
    assert fingerprint("Ada@Example.com ") == fingerprint("ada@example.com")
    assert len(fingerprint("x")) == 16
