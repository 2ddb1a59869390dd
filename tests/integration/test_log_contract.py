"""The success lines that Terraform keeps only a sample of (pipeline.json `logging.success_lines`).

Terraform's exclusion (terraform/modules/monitoring, `success_log_sampling`) drops most INFO lines
whose metric and outcome are listed, of identify, track and webhook-ingest (transactional keeps
every line), from storage only: the log-based metrics still count them.
Two things must hold for that to be safe and worth it, and both are read here from the lines the
runtime really writes, behind real parts (the sandbox, the Pub/Sub emulator):

- a message delivered, or a webhook request accepted, writes only success lines (otherwise what
  it writes besides is stored in full, and `make cost` prices it so);
- a failure (a retry, a dead letter, a rejected or quarantined webhook) writes no line the
  exclusion matches, so every line an operator needs to see a failure is kept.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from customerio_gcp_local.push import cloud_event_data, push_body

from customerio_gcp.customerio import ServerError
from customerio_gcp.delivery import DeadLetterPublisher, DeliveryOutcome, PubSubDelivery
from customerio_gcp.delivery.coalescing import Coalescer
from customerio_gcp.messages.models import TopicKind
from customerio_gcp.people import InMemoryTombstoneStore, Tombstones
from customerio_gcp.pipeline import load
from customerio_gcp.service import MessagingService
from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.keeping import EventKeeper
from customerio_gcp.webhooks.signature import signed_headers
from tests.conftest import topic_with_subscription

PIPELINE = load()
KEY = "whsec-contract"

MESSAGES: dict[TopicKind, dict[str, Any]] = {
    "identify": {"op": "identify", "identifiers": {"id": "u1"}, "attributes": {"plan": "pro"}},
    "track": {
        "op": "event",
        "identifiers": {"id": "u1"},
        "name": "order_completed",
        "data": {"total": 3},
        "timestamp": 1_800_000_000,
    },
    "transactional": {
        "op": "send_email",
        "transactional_message_id": 3,
        "to": "u1@example.com",
        "identifiers": {"id": "u1"},
        "idempotency_key": "contract-receipt-1",
    },
}


def written(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def excluded(line: dict[str, Any]) -> bool:
    """What the exclusion's filter matches (before its sampling)."""
    return PIPELINE.is_success_line(line)


def delivery(topic: TopicKind, track, app, dead_letter_topic: str | None = None) -> PubSubDelivery:
    service = MessagingService(track, app, coalescer=Coalescer(track.post_batch, linger_s=0))
    publisher = DeadLetterPublisher(dead_letter_topic) if dead_letter_topic else None
    return PubSubDelivery(topic, service, publisher, "projects/x/subscriptions/contract-push")


def push(message: dict[str, Any] | bytes, message_id: str) -> Any:
    data = message if isinstance(message, bytes) else json.dumps(message).encode()
    return cloud_event_data(push_body(data, message_id=message_id))


@pytest.mark.parametrize("topic", ["identify", "track"])  # the functions whose lines are sampled
def test_a_delivered_message_writes_only_success_lines(topic: TopicKind, track, app, lines) -> None:
    assert delivery(topic, track, app)(push(MESSAGES[topic], f"ok-{topic}")) is DeliveryOutcome.DELIVERED
    written_lines = written(lines)
    assert {line["metric"] for line in written_lines} == {"operation", "delivery"}
    assert [line for line in written_lines if not excluded(line)] == []


def test_a_retried_message_keeps_every_line(track, app, lines, control) -> None:
    control.set_faults({"scripted": [{"status": 503, "count": 5}]})
    with pytest.raises(ServerError):
        delivery("track", track, app)(push(MESSAGES["track"], "retry-1"))
    written_lines = written(lines)
    assert {(line["metric"], line["outcome"]) for line in written_lines} == {
        ("operation", "transient_error"),
        ("delivery", "retry"),
    }
    assert not any(excluded(line) for line in written_lines)


def test_a_message_skipped_for_a_deleted_person_keeps_its_lines(track, app, lines) -> None:
    tombstones = Tombstones(InMemoryTombstoneStore(), lambda: "ws", clock=lambda: 1_800_000_000)
    service = MessagingService(track, app, tombstones=tombstones, coalescer=Coalescer(track.post_batch, linger_s=0))
    identify = PubSubDelivery("identify", service, None, "projects/x/subscriptions/contract-push")
    handle = PubSubDelivery("track", service, None, "projects/x/subscriptions/contract-push")
    deleted = {"op": "delete", "identifiers": {"id": "u1"}, "timestamp": 1_800_000_000}
    assert identify(push(deleted, "deleted-1")) is DeliveryOutcome.DELIVERED
    lines.seek(0)
    lines.truncate()
    older = MESSAGES["track"] | {"timestamp": 1_799_999_990}
    assert handle(push(older, "older-1")) is DeliveryOutcome.DELIVERED
    written_lines = written(lines)
    assert {(line["metric"], line["outcome"]) for line in written_lines} == {
        ("operation", "skipped_deleted"),
        ("delivery", "skipped_deleted"),
    }
    assert not any(excluded(line) for line in written_lines)


def test_a_dead_lettered_message_keeps_every_line(track, app, lines, pubsub_emulator, unique) -> None:
    topic, _ = topic_with_subscription(f"contract-dlq-{unique}")
    handle = delivery("identify", track, app, topic)
    assert handle(push(b"not json", "dead-1")) is DeliveryOutcome.DEAD_LETTERED
    written_lines = written(lines)
    assert [(line["metric"], line["outcome"]) for line in written_lines] == [("delivery", "dead_lettered")]
    assert not any(excluded(line) for line in written_lines)


def test_webhook_lines_are_success_lines_only_when_accepted(pubsub_emulator, unique, lines) -> None:
    events, _ = topic_with_subscription(f"contract-events-{unique}")
    quarantine, _ = topic_with_subscription(f"contract-quarantine-{unique}")
    now = 1_800_000_000
    handler = WebhookHandler(lambda _stale: [KEY], EventKeeper(events, quarantine), clock=lambda: now)
    event = {"event_id": "contract-1", "object_type": "email", "metric": "sent", "timestamp": now, "data": {}}
    body = json.dumps(event).encode()
    assert handler.handle("POST", signed_headers(body, KEY, now), body).status == 200
    [accepted] = written(lines)
    assert excluded(accepted)

    lines.seek(0)
    lines.truncate()
    assert handler.handle("POST", signed_headers(body, "not-our-key", now), body).status == 401
    [rejected] = written(lines)
    assert rejected["outcome"] == "rejected" and not excluded(rejected)

    lines.seek(0)
    lines.truncate()
    unparseable = b'{"event_id": '
    assert handler.handle("POST", signed_headers(unparseable, KEY, now), unparseable).status == 200
    # Answered 2xx (kept, quarantined), so its request line is a success line; what went wrong is
    # on a line of its own, which the exclusion never matches.
    [kept] = [line for line in written(lines) if line["metric"] == "webhook_quarantine"]
    assert kept["severity"] == "WARNING" and not excluded(kept)
