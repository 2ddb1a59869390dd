"""The messaging service end to end against the sandbox: every topic message, the metric line
each operation emits, and a scan of all log output for personal data."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from customerio_sandbox import SandboxControl

from customerio_gcp.customerio import AppClient, BadRequestError, Identifiers, TrackClient
from customerio_gcp.messages import decode
from customerio_gcp.observability import correlation_scope
from customerio_gcp.repository import User, UserMessagingRepository, plan
from customerio_gcp.service import MessagingService
from tests.conftest import captured_logs

PII = ["ada.lovelace@example.com", "+15555550100", "Analytical Engine Ltd", "42 Secret Street", "tok-ios-123"]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    with captured_logs("DEBUG") as stream:
        yield stream


@pytest.fixture
def service(track: TrackClient, app: AppClient) -> MessagingService:
    return MessagingService(track, app)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


MESSAGES = [
    ("identify", {"op": "identify", "identifiers": {"email": PII[0]}, "attributes": {"company": PII[2], "phone": PII[1]}}),
    ("identify", {"op": "add_device", "identifiers": {"email": PII[0]}, "device_id": PII[4], "platform": "ios"}),
    ("identify", {"op": "remove_device", "identifiers": {"email": PII[0]}, "device_id": PII[4]}),
    ("identify", {"op": "identify", "identifiers": {"id": "u2"}, "attributes": {"address": PII[3]}}),
    ("identify", {"op": "merge", "primary": {"email": PII[0]}, "secondary": {"id": "u2"}}),
    ("identify", {"op": "suppress", "identifiers": {"email": PII[0]}}),
    ("identify", {"op": "unsuppress", "identifiers": {"email": PII[0]}}),
    ("track", {"op": "event", "identifiers": {"email": PII[0]}, "name": "ordered", "timestamp": 1_700_000_000, "data": {"ship_to": PII[3]}}),
    ("track", {"op": "page", "identifiers": {"email": PII[0]}, "name": "https://example.com/a", "timestamp": 1_700_000_001}),
    ("track", {"op": "screen", "identifiers": {"email": PII[0]}, "name": "Home", "timestamp": 1_700_000_002}),
    ("track", {"op": "anonymous_event", "anonymous_id": "anon-9", "name": "visited", "timestamp": 1_700_000_003}),
    ("transactional", {"op": "send_email", "transactional_message_id": 1, "to": PII[0], "identifiers": {"email": PII[0]}, "message_data": {"company": PII[2]}}),
    ("transactional", {"op": "send_push", "transactional_message_id": 2, "identifiers": {"email": PII[0]}}),
    ("transactional", {"op": "send_sms", "transactional_message_id": 3, "identifiers": {"email": PII[0]}, "to": PII[1]}),
    ("transactional", {"op": "trigger_broadcast", "broadcast_id": 4, "emails": [PII[0]]}),
    ("identify", {"op": "delete", "identifiers": {"email": PII[0]}}),
]  # fmt: skip


def test_every_topic_message_reaches_customerio_and_logs_no_personal_data(
    service: MessagingService, control: SandboxControl, logs: io.StringIO
) -> None:
    for topic, raw in MESSAGES:
        with correlation_scope(message_id="m-1", function=topic):
            service.handle(decode(topic, json.dumps(raw).encode()))

    accepted = [r["operation"] for r in control.requests(accepted_only=True)]
    assert accepted == [
        "identify", "add_device", "remove_device", "identify", "merge", "suppress", "unsuppress",
        "event", "event", "event", "anonymous_event",
        "send_email", "send_push", "send_sms", "trigger_broadcast", "delete",
    ]  # fmt: skip
    assert control.summary()["events"] == 4

    # A failing call logs too: its error class, never the body.
    with pytest.raises(BadRequestError):
        service.merge_users(Identifiers(email="nobody@example.com"), Identifiers(email=PII[0]))

    output = logs.getvalue()
    for secret in [*PII, "nobody@example.com"]:
        assert secret not in output, f"personal data in logs: {secret[:4]}…"
    metric_lines = [line for line in lines(logs) if line.get("metric") == "operation"]
    assert len(metric_lines) == len(MESSAGES) + 1
    assert {line["operation"] for line in metric_lines} >= {"identify", "event", "send_email", "trigger_broadcast"}
    first = metric_lines[0]
    assert first["severity"] == "INFO" and first["outcome"] == "success" and first["latency_ms"] >= 0
    assert first["message_id"] == "m-1" and first["identifier_kind"] == "email"
    failed = metric_lines[-1]
    assert failed["severity"] == "WARNING"
    assert failed["outcome"] == "permanent_error" and failed["error_class"] == "BadRequestError"


def test_event_ids_are_deterministic_ulids(service: MessagingService, control: SandboxControl) -> None:
    who = Identifiers(id="u1")
    first = service.track_event(who, "viewed", {"sku": 1}, timestamp=1_700_000_000)
    again = service.track_event(who, "viewed", {"sku": 1}, timestamp=1_700_000_000)
    other = service.track_event(who, "viewed", {"sku": 2}, timestamp=1_700_000_000)
    assert first == again != other
    assert len(first) == 26
    assert len(control.events()) == 2  # the repeat was ignored by (the sandbox's) Customer.io
    from ulid import ULID

    assert ULID.from_str(first).milliseconds == 1_700_000_000_000


def test_a_caller_event_id_decides_the_ulid(service: MessagingService) -> None:
    who = Identifiers(id="u1")
    a = service.track_event(who, "x", {"v": 1}, timestamp=1_700_000_000, event_id="order-1")
    b = service.track_event(who, "x", {"v": 2}, timestamp=1_700_000_000, event_id="order-1")
    assert a == b
    given = "01HGW2N7EHJX9C3B2ZQ5V8K4MA"
    assert service.track_event(who, "x", timestamp=1_700_000_000, event_id=given) == given


def test_user_sync_rules(service: MessagingService, control: SandboxControl) -> None:
    repository = UserMessagingRepository(service)
    assert repository.sync(User("u1", email="a@example.com", attributes={"plan": "pro"}, updated_at=1_700_000_000)) == [
        "identify"
    ]
    assert repository.sync(User("u2", opted_out=True)) == ["suppress"]
    assert repository.sync(User("u3", deleted=True)) == ["delete"]  # one message: suppress, then delete
    assert control.person("u1")["attributes"] == {"plan": "pro", "email": "a@example.com"}
    assert control.requests("identify")[0]["body"]["_timestamp"] == 1_700_000_000
    assert control.person("u2")["suppressed"] is True
    assert control.person("u3") is None
    assert [r["operation"] for r in control.requests()] == ["identify", "suppress", "suppress", "delete"]


def test_plan_prefers_deletion_over_opt_out() -> None:
    planned = plan(User("u", opted_out=True, deleted=True))
    assert [(m.op, getattr(m, "suppress", None)) for m in planned] == [("delete", True)]
