from __future__ import annotations

import json

import pytest

from customerio_gcp.customerio import LimitExceededError
from customerio_gcp.messages import IdentifyPerson, InvalidMessageError, decode, encode


def raw(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_round_trip() -> None:
    message = IdentifyPerson(identifiers={"id": "u1"}, attributes={"plan": "pro"}, timestamp=5)
    assert decode("identify", encode(message)) == message


@pytest.mark.parametrize(
    ("topic", "data", "reason"),
    [
        ("identify", b"{not json", "message is not JSON (JSONDecodeError)"),
        ("identify", b"\xff\xfe", "message is not JSON"),
        ("identify", b"[1]", "message is not a JSON object"),
        (
            "identify",
            raw(v=2, op="identify", identifiers={"id": "u"}),
            "unsupported message version 2; this consumer reads v1",
        ),
        ("identify", raw(v="1", op="identify", identifiers={"id": "u"}), "unsupported message version str"),
        ("identify", raw(op="event", identifiers={"id": "u"}, name="x", timestamp=1), "union_tag_invalid"),
        ("track", raw(op="event", identifiers={"id": "u"}, name="x", timestamp="soon"), "event.timestamp: int_parsing"),
        ("track", raw(op="event", identifiers={}, name="x", timestamp=1), "exactly one of id, email, cio_id, phone"),
        (
            "identify",
            raw(op="identify", identifiers={"id": "u"}, extra_field=1),
            "identify.extra_field: extra_forbidden",
        ),
        ("transactional", raw(op="send_email", identifiers={"id": "u"}, to="a@b.co"), "transactional_message_id"),
    ],
)
def test_invalid_messages_name_the_problem_not_the_values(topic: str, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        decode(topic, data)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert "a@b.co" not in caught.value.reason


def test_limit_errors_surface_as_they_are() -> None:
    with pytest.raises(LimitExceededError, match="event name is 101 bytes"):
        decode("track", raw(op="event", identifiers={"id": "u"}, name="n" * 101, timestamp=1))


def test_json_schemas_are_exported_and_current() -> None:
    from pathlib import Path

    from customerio_gcp.messages.schema import export_schemas

    docs = Path(__file__).resolve().parents[2] / "docs" / "messages"
    for name, schema in export_schemas().items():
        stored = json.loads((docs / f"{name}.schema.json").read_text())
        assert stored == schema, f"docs/messages/{name}.schema.json is stale: run `make schemas`"


def test_anonymous_event_names_are_limited_too() -> None:
    with pytest.raises(LimitExceededError, match="event name is 101 bytes"):
        decode("track", raw(op="anonymous_event", anonymous_id="a", name="n" * 101, timestamp=1))


@pytest.mark.parametrize(
    ("message", "request_model"),
    [
        ("SendEmail", "EmailRequest"),
        ("SendPush", "PushRequest"),
        ("SendSms", "SmsRequest"),
        ("TriggerBroadcast", "BroadcastTrigger"),
    ],
)
def test_the_contract_declares_exactly_the_request_fields_plus_its_envelope(message: str, request_model: str) -> None:
    """The wire contract owns its models (a client change must not change it silently), and the
    service maps each message to its request by field name: the two must list the same fields,
    with the same aliases, apart from the contract's own envelope (v, op, idempotency_key,
    timestamp), so the mapping can never drop or invent a field."""
    from customerio_gcp.customerio import app
    from customerio_gcp.messages import models
    from customerio_gcp.service import ENVELOPE

    contract = getattr(models, message).model_fields
    client = getattr(app, request_model).model_fields
    assert set(contract) - ENVELOPE == set(client)
    assert {n: f.alias for n, f in contract.items() if n not in ENVELOPE} == {n: f.alias for n, f in client.items()}
    assert {n: f.is_required() for n, f in contract.items() if n not in ENVELOPE} == {
        n: f.is_required() for n, f in client.items()
    }
