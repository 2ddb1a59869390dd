"""The publisher against the real Pub/Sub emulator: valid messages arrive with their attributes,
invalid ones are refused before anything is published."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import InvalidMessageError, SendEmail, TrackEvent
from customerio_gcp.publishing import Publisher
from tests.conftest import PROJECT


@pytest.fixture
def topics(pubsub_emulator: str, unique: str) -> Iterator[dict[str, str]]:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    names = {kind: f"{kind}-{unique}" for kind in ("identify", "track", "transactional")}
    subs = {}
    for kind, name in names.items():
        topic = publisher.create_topic(name=publisher.topic_path(PROJECT, name)).name
        subs[kind] = subscriber.create_subscription(
            name=subscriber.subscription_path(PROJECT, name + "-pull"), topic=topic
        ).name
    yield {"topics": names, "subscriptions": subs}  # type: ignore[misc]
    subscriber.close()


def pull_all(subscription: str, expected: int, timeout: float = 5) -> list:
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    received = []
    for _ in range(20):
        response = subscriber.pull(subscription=subscription, max_messages=10, timeout=timeout)
        received.extend(m.message for m in response.received_messages)
        if response.received_messages:
            subscriber.acknowledge(subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages])
        if len(received) >= expected:
            break
    subscriber.close()
    return received


def test_messages_go_to_their_topic_with_routing_attributes(topics: dict) -> None:
    publisher = Publisher(PROJECT, topics=topics["topics"])
    publisher.publish(
        TrackEvent(identifiers=Identifiers(id="u1"), name="signed_up", timestamp=1_700_000_000, data={"plan": "pro"})
    )
    publisher.publish({"op": "identify", "identifiers": {"email": "ada@example.com"}, "attributes": {"plan": "pro"}})
    publisher.publish(SendEmail(transactional_message_id=1, to="ada@example.com", identifiers=Identifiers(id="u1")))

    [track] = pull_all(topics["subscriptions"]["track"], 1)
    assert dict(track.attributes) == {"op": "event", "v": "1", "kind": "track"}
    assert json.loads(track.data)["name"] == "signed_up"
    [identify] = pull_all(topics["subscriptions"]["identify"], 1)
    assert identify.attributes["op"] == "identify"
    assert "ada@example.com" not in json.dumps(dict(identify.attributes))  # no identifiers in attributes
    [send] = pull_all(topics["subscriptions"]["transactional"], 1)
    assert json.loads(send.data)["transactional_message_id"] == 1


def test_invalid_messages_are_refused_before_publishing(topics: dict) -> None:
    publisher = Publisher(PROJECT, topics=topics["topics"])
    bad = [
        {"op": "identify", "identifiers": {"id": "u1", "email": "ada@example.com"}},
        {"op": "event", "identifiers": {"id": "u1"}, "name": "no_timestamp"},
        {"op": "teleport", "identifiers": {"id": "u1"}},
        {"op": "identify", "identifiers": {"id": "u1"}, "attributes": {"bio": "x" * 2000}},
    ]
    reasons = []
    for message in bad:
        with pytest.raises(InvalidMessageError) as caught:
            publisher.publish(message)
        reasons.append(caught.value.reason)
    assert "exactly one of id, email, cio_id, phone" in reasons[0]
    assert "event.timestamp: missing" in reasons[1]
    assert "union_tag_invalid" in reasons[2]
    assert "value of attribute 'bio' is 2000 bytes, the limit is 1000 bytes" in reasons[3]
    assert all("ada@example.com" not in r for r in reasons)
    # A batch with one bad message publishes nothing.
    good = {"op": "identify", "identifiers": {"id": "u2"}, "attributes": {}}
    with pytest.raises(InvalidMessageError):
        publisher.publish_many([good, bad[0]])
    assert pull_all(topics["subscriptions"]["identify"], 0, timeout=1) == []
