"""The delivery handler's log lines and dead-letter attributes, which mutation testing
(`make mutate`) showed no test read. They are not decoration: Terraform's log-based metrics and
alerts count `metric="delivery"` lines by `outcome`, `error_class` and `function` (the
`customerio/dead_letters` metric, terraform/modules/monitoring), and an operator reads the rest.
Real parts throughout: the sandbox behind the service, the Pub/Sub emulator's topics."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from customerio_gcp_local.push import cloud_event_data, push_body
from google.api_core.exceptions import NotFound

from customerio_gcp.customerio import AppClient, ServerError, TrackClient
from customerio_gcp.delivery import DeadLetterPublisher, DeliveryOutcome, PubSubDelivery
from customerio_gcp.delivery.handler import NoDeadLetterTopicError
from customerio_gcp.people import InMemoryTombstoneStore, Tombstone, Tombstones
from customerio_gcp.service import MessagingService
from tests.conftest import PROJECT, pull_now, topic_with_subscription

IDENTIFY = json.dumps({"op": "identify", "identifiers": {"id": "u1"}, "attributes": {"plan": "pro"}}).encode()
NOT_JSON = b"not json"
SOURCE = "projects/x/subscriptions/identify-push"


def delivery_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The handler's own lines (metric="delivery"), without the time."""
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [{k: v for k, v in line.items() if k != "time"} for line in parsed if line.get("metric") == "delivery"]


def handler(track: TrackClient, app: AppClient, topic: str | None, **service: Any) -> PubSubDelivery:
    publisher = DeadLetterPublisher(topic) if topic else None
    return PubSubDelivery("identify", MessagingService(track, app, **service), publisher, SOURCE)


def correlation(message_id: str, attempt: str | None = None, op: str | None = "identify") -> dict[str, str]:
    fields = {"message_id": message_id, "function": "identify", "logger": "customerio_gcp"}
    return fields | ({"op": op} if op else {}) | ({"pubsub_attempt": attempt} if attempt else {})


def test_a_delivery_from_a_cloud_event_logs_one_delivered_line(track, app, lines, pubsub_emulator, unique) -> None:
    topic, _ = topic_with_subscription(f"dlq-{unique}")
    handle = handler(track, app, topic)
    # A CloudEvent-like object (anything with `.data`), carrying a push body with its attempt.
    event = SimpleNamespace(data=push_body(IDENTIFY, message_id="m-1", delivery_attempt=3, op="identify"))
    assert handle(event) is DeliveryOutcome.DELIVERED
    [line] = delivery_lines(lines)
    assert line == correlation("m-1", "3") | {
        "severity": "INFO",
        "message": "message delivered",
        "metric": "delivery",
        "outcome": "delivered",
    }


def test_a_first_delivery_has_no_attempt_number(track, app, lines) -> None:
    handle = handler(track, app, None)
    handle(cloud_event_data(push_body(IDENTIFY, message_id="m-2", op="identify")))
    [line] = delivery_lines(lines)
    assert "pubsub_attempt" not in line and line["message_id"] == "m-2"


def test_a_message_skipped_for_a_deleted_person_is_logged_as_such(track, app, lines) -> None:
    tombstones = Tombstones(InMemoryTombstoneStore(), lambda: "ws", clock=lambda: 1_800_000_000)
    handle = handler(track, app, None, tombstones=tombstones)
    published = datetime.fromtimestamp(1_800_000_000, UTC).isoformat().replace("+00:00", "Z")
    delete = push_body(json.dumps({"op": "delete", "identifiers": {"id": "u1"}}).encode(), message_id="m-3")
    delete["message"]["publishTime"] = published
    assert handle(cloud_event_data(delete)) is DeliveryOutcome.DELIVERED
    older = push_body(IDENTIFY, message_id="m-4")
    older["message"]["publishTime"] = datetime.fromtimestamp(1_799_999_995, UTC).isoformat().replace("+00:00", "Z")
    assert handle(cloud_event_data(older)) is DeliveryOutcome.DELIVERED
    first, second = delivery_lines(lines)
    assert (first["message"], first["outcome"]) == ("message delivered", "delivered")
    assert second == correlation("m-4", op=None) | {
        "severity": "INFO",
        "message": "message skipped_deleted",
        "metric": "delivery",
        "outcome": "skipped_deleted",
        "skipped": "person deleted after this message",  # the service's details, on the line
    }


def test_a_dead_letter_is_logged_for_the_dead_letters_metric(track, app, lines, pubsub_emulator, unique) -> None:
    topic, subscription = topic_with_subscription(f"dlq-{unique}")
    handle = handler(track, app, topic)
    # functions-framework's CloudEvent data has no subscription: the configured one is recorded.
    assert handle(cloud_event_data(push_body(NOT_JSON, message_id="m-5", op="identify"))) is (
        DeliveryOutcome.DEAD_LETTERED
    )
    [letter] = pull_now(subscription)
    attributes = dict(letter.attributes)
    assert attributes["dlq_source_subscription"] == SOURCE
    assert attributes["dlq_function"] == "identify"
    [line] = delivery_lines(lines)
    assert line == correlation("m-5") | {
        "severity": "WARNING",
        "message": "message dead-lettered",
        "metric": "delivery",
        "outcome": "dead_lettered",
        "error_class": "InvalidMessageError",
        "reason": attributes["dlq_reason"],
        "dead_letter_topic": topic,
        "dead_letter_message_id": letter.message_id,
    }


def test_a_transient_failure_is_logged_as_a_retry(track, app, lines, control) -> None:
    control.set_faults({"scripted": [{"status": 503, "count": 5}]})
    handle = handler(track, app, None)
    with pytest.raises(ServerError) as caught:
        handle(cloud_event_data(push_body(IDENTIFY, message_id="m-6", op="identify")))
    [line] = delivery_lines(lines)
    assert line == correlation("m-6") | {
        "severity": "WARNING",
        "message": "delivery failed; Pub/Sub will redeliver",
        "metric": "delivery",
        "outcome": "retry",
        "error_class": "ServerError",
        "reason": caught.value.reason,
    }


class UnreachableTombstones:
    """A tombstone store whose backend is down: its client raises its own exception type."""

    def get_many(self, keys: Sequence[str]) -> Mapping[str, Tombstone]:
        raise ConnectionError("Firestore unavailable")

    def put_many(self, tombstones: Mapping[str, Tombstone]) -> None:
        raise ConnectionError("Firestore unavailable")


def test_an_unforeseen_failure_is_logged_as_an_error_and_retried(track, app, lines) -> None:
    tombstones = Tombstones(UnreachableTombstones(), lambda: "ws")
    handle = handler(track, app, None, tombstones=tombstones)
    with pytest.raises(ConnectionError):
        handle(cloud_event_data(push_body(IDENTIFY, message_id="m-7", op="identify")))
    [line] = delivery_lines(lines)
    assert line == correlation("m-7") | {
        "severity": "ERROR",
        "message": "delivery failed; Pub/Sub will redeliver",
        "metric": "delivery",
        "outcome": "retry",
        "error_class": "ConnectionError",
        "reason": "unexpected error",
    }


def test_without_a_dead_letter_topic_the_retry_says_so(track, app, lines) -> None:
    handle = handler(track, app, None)
    with pytest.raises(NoDeadLetterTopicError) as caught:
        handle(cloud_event_data(push_body(NOT_JSON, message_id="m-8", op="identify")))
    [line] = delivery_lines(lines)
    assert line == correlation("m-8") | {
        "severity": "ERROR",
        "message": "permanent failure but no DEAD_LETTER_TOPIC is configured",
        "metric": "delivery",
        "outcome": "retry",
        "error_class": "InvalidMessageError",
        "reason": str(caught.value),
    }
    assert "not JSON" in str(caught.value)


def test_a_failed_dead_letter_publish_is_logged_as_a_retry(track, app, lines, pubsub_emulator) -> None:
    handle = handler(track, app, f"projects/{PROJECT}/topics/does-not-exist")
    with pytest.raises(NotFound):
        handle(cloud_event_data(push_body(NOT_JSON, message_id="m-9", op="identify")))
    [line] = delivery_lines(lines)
    reason = line.pop("reason")
    assert "not JSON" in reason
    assert line == correlation("m-9") | {
        "severity": "ERROR",
        "message": "dead-letter publish failed; the message will be redelivered",
        "metric": "delivery",
        "outcome": "retry",
        "error_class": "NotFound",
    }
