"""The shared delivery handler with a real dead-letter topic on the Pub/Sub emulator and the
sandbox behind the service: every outcome, including a dead-letter publish that fails."""

from __future__ import annotations

import json

import pytest
from customerio_gcp_local.push import cloud_event_data, push_body
from customerio_sandbox import SandboxControl
from google.api_core.exceptions import NotFound

from customerio_gcp.customerio import AppClient, ServerError, TrackClient
from customerio_gcp.delivery import DeadLetterPublisher, DeliveryOutcome, PubSubDelivery, PushedMessage
from customerio_gcp.delivery.push import MalformedPushError
from customerio_gcp.service import MessagingService
from tests.conftest import PROJECT, pull_now, topic_with_subscription

IDENTIFY = json.dumps({"op": "identify", "identifiers": {"id": "u1"}, "attributes": {"plan": "pro"}}).encode()


@pytest.fixture
def dead_letter_topic(pubsub_emulator: str, unique: str) -> tuple[str, str]:
    return topic_with_subscription(f"dlq-{unique}")


def delivery(track: TrackClient, app: AppClient, topic_path: str | None) -> PubSubDelivery:
    dead_letter = DeadLetterPublisher(topic_path) if topic_path else None
    return PubSubDelivery(
        "identify", MessagingService(track, app), dead_letter, "projects/x/subscriptions/identify-push"
    )


def test_delivered(track: TrackClient, app: AppClient, control: SandboxControl, dead_letter_topic) -> None:
    handle = delivery(track, app, dead_letter_topic[0])
    assert handle(cloud_event_data(push_body(IDENTIFY))) is DeliveryOutcome.DELIVERED
    assert control.person("u1")["attributes"] == {"plan": "pro"}


def test_permanent_failure_is_dead_lettered_with_reason_and_original(track, app, dead_letter_topic) -> None:
    topic, subscription = dead_letter_topic
    handle = delivery(track, app, topic)
    original = b'{"op": "identify", "identifiers": {"email": "ada@example.com", "id": "u1"}}'
    body = push_body(
        original,
        message_id="m-7",
        delivery_attempt=2,
        op="identify",
    )
    assert handle(body) is DeliveryOutcome.DEAD_LETTERED
    [letter] = pull_now(subscription)
    assert letter.data == original  # the original bytes, so a replay is the same message
    attributes = dict(letter.attributes)
    assert attributes["op"] == "identify"
    assert attributes["dlq_error_class"] == "InvalidMessageError"
    assert "exactly one of id, email" in attributes["dlq_reason"]
    assert attributes["dlq_original_message_id"] == "m-7"
    assert attributes["dlq_attempt"] == "2"
    assert attributes["dlq_source_subscription"] == "projects/local/subscriptions/test"
    assert "ada@example.com" not in json.dumps(attributes)


def test_a_failed_dead_letter_publish_fails_the_delivery(track, app, pubsub_emulator) -> None:
    handle = delivery(track, app, f"projects/{PROJECT}/topics/does-not-exist")
    with pytest.raises(NotFound):
        handle(cloud_event_data(push_body(b"not json")))


def test_without_a_dead_letter_topic_a_permanent_failure_is_retried_not_dropped(track, app) -> None:
    handle = delivery(track, app, None)
    with pytest.raises(Exception, match="not JSON"):
        handle(cloud_event_data(push_body(b"not json")))


def test_transient_failure_raises_for_redelivery(track, app, control: SandboxControl, dead_letter_topic) -> None:
    control.set_faults({"scripted": [{"status": 503, "count": 5}]})
    handle = delivery(track, app, dead_letter_topic[0])
    with pytest.raises(ServerError):
        handle(cloud_event_data(push_body(IDENTIFY)))
    assert pull_now(dead_letter_topic[1]) == []


@pytest.mark.parametrize(
    "data", [None, {}, {"message": "x"}, {"message": {"data": "aGk="}}, {"message": {"messageId": "1", "data": "!!"}}]
)
def test_a_request_that_is_not_a_push_is_refused(data) -> None:
    with pytest.raises(MalformedPushError):
        PushedMessage.from_event_data(data)
