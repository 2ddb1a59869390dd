"""End to end: messages published to the topics, pushed (the local pusher, with Pub/Sub push's
semantics) to the real function processes, delivered to the sandbox — or dead-lettered with a reason. Never lost.

The functions run as deployed: identify and track coalesce (TRACK_COALESCE, on by default), so a
person's operations travel inside `/api/v2/batch` requests, possibly beside other people's; the
sandbox finds a person's requests by the people each request names, and its faults can be
aimed at them (`identifier`). Each test uses its own people, so the tests share one pipeline
without seeing each other.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from customerio_gcp_local.stack import wait_until
from google.cloud import pubsub_v1

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import IdentifyPerson, MergePeople, SendEmail, TrackEvent
from tests.e2e.conftest import Pipeline


def person() -> str:
    return "p-" + uuid.uuid4().hex[:10]


def events_of(pipeline: Pipeline, who: str) -> list[dict]:
    return [e for e in pipeline.control.events() if e.get("customer") == who]


def requests_to(pipeline: Pipeline, who: str) -> list[dict]:
    """The Track API requests carrying an operation for `who` (v2 batches, or v1 calls)."""
    return [r for r in pipeline.control.requests(identifier=who) if r["api"].startswith("track")]


def operations_for(request: dict, who: str) -> list[str]:
    """The actions a request carried for `who`: each of a batch's operations for them."""
    if request["operation"] != "v2_batch":
        return [request["operation"]]
    return [op["action"] for op in request["body"]["batch"] if who in op["identifiers"].values()]


def test_messages_are_delivered_once(pipeline: Pipeline) -> None:
    who = person()
    publisher = pipeline.publisher
    publisher.publish(
        IdentifyPerson(identifiers=Identifiers(id=who), attributes={"plan": "pro"}, timestamp=1_700_000_000)
    )
    publisher.publish(TrackEvent(identifiers=Identifiers(id=who), name="signed_up", timestamp=1_700_000_001))
    publisher.publish(SendEmail(transactional_message_id=1, to=f"{who}@example.com", identifiers=Identifiers(id=who)))

    def arrived() -> bool:
        sends = [d for d in pipeline.control.deliveries() if d["request"]["identifiers"] == {"id": who}]
        return pipeline.control.person(who) is not None and len(events_of(pipeline, who)) == 1 and len(sends) == 1

    assert wait_until(arrived, timeout=30)
    assert pipeline.control.person(who)["attributes"] == {"plan": "pro"}
    assert pipeline.control.person(who)["identifies"] == 1
    # Each operation went once, coalesced: one accepted batch item each, no retry, no second copy.
    requests = requests_to(pipeline, who)
    assert [(r["operation"], r["status"]) for r in requests] == [("v2_batch", 200)] * 2
    assert sorted(action for r in requests for action in operations_for(r, who)) == ["event", "identify"]


def test_transient_faults_are_retried_then_delivered_once(pipeline: Pipeline) -> None:
    who = person()
    # Three 503s for the batches carrying the event: the first delivery fails (two client
    # attempts), the redelivery gets one more, then succeeds.
    pipeline.control.set_faults({"scripted": [{"status": 503, "count": 3, "identifier": who}]})
    pipeline.publisher.publish(TrackEvent(identifiers=Identifiers(id=who), name="checkout", timestamp=1_700_000_000))
    assert wait_until(lambda: len(events_of(pipeline, who)) == 1, timeout=40)
    requests = requests_to(pipeline, who)
    assert [r["status"] for r in requests] == [503, 503, 503, 200]
    assert [operations_for(r, who) for r in requests] == [["event"]] * 4  # the same event each time


def test_permanent_failures_are_dead_lettered_on_the_first_attempt_with_a_reason(pipeline: Pipeline) -> None:
    missing, who = person(), person()
    message_id = pipeline.publisher.publish(MergePeople(primary=Identifiers(id=missing), secondary=Identifiers(id=who)))
    raw = pubsub_v1.PublisherClient()
    malformed_id = raw.publish(pipeline.stack.topology["track"].topic, b'{"op": "event", "v": 3}', marker=who).result()

    [merge] = pipeline.wait_for_dead_letters(
        "identify", lambda m: m.attributes.get("dlq_original_message_id") == message_id, 1
    )
    assert merge.attributes["dlq_error_class"] == "BadRequestError"
    assert merge.attributes["dlq_reason"] == "primary person does not exist"
    assert merge.attributes["dlq_status"] == "400"
    assert merge.attributes["dlq_source_subscription"] == pipeline.stack.topology["identify"].push_subscription
    assert merge.attributes["op"] == "merge"  # the original attributes are kept
    assert json.loads(merge.data)["primary"] == {"id": missing}  # and the original bytes
    merges = [r for r in pipeline.control.requests("merge") if r["body"]["primary"] == {"id": missing}]
    assert len(merges) == 1  # no retry was burnt on it

    [bad] = pipeline.wait_for_dead_letters("track", lambda m: m.attributes.get("marker") == who, 1)
    assert bad.attributes["dlq_error_class"] == "InvalidMessageError"
    assert bad.attributes["dlq_reason"] == "unsupported message version 3; this consumer reads v1"
    assert bad.attributes["dlq_original_message_id"] == malformed_id


def test_a_message_failing_transiently_forever_is_dead_lettered_by_pubsub(pipeline: Pipeline) -> None:
    who = person()
    attempts = pipeline.stack.config.delivery.max_delivery_attempts
    pipeline.control.set_faults({"scripted": [{"status": 503, "count": 1000, "identifier": who}]})
    message_id = pipeline.publisher.publish(IdentifyPerson(identifiers=Identifiers(id=who), attributes={"a": 1}))
    [letter] = pipeline.wait_for_dead_letters(
        "identify", lambda m: json.loads(m.data).get("identifiers") == {"id": who}, 1, timeout=60
    )
    assert letter.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(attempts)
    assert "dlq_error_class" not in letter.attributes  # moved by Pub/Sub, not by the function
    # Every delivery made two client attempts; none of them was acknowledged.
    assert len(requests_to(pipeline, who)) == 2 * attempts
    assert message_id
    pipeline.control.set_faults({})


def test_duplicate_publishes_of_one_transactional_send_give_one_send(pipeline: Pipeline) -> None:
    who = person()
    send = SendEmail(
        transactional_message_id=2,
        to=f"{who}@example.com",
        identifiers=Identifiers(id=who),
        idempotency_key=f"receipt-{who}",
    )
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: pipeline.publisher.publish(send), range(6)))

    def sends() -> list[dict]:
        return [d for d in pipeline.control.deliveries() if d["request"]["identifiers"] == {"id": who}]

    assert wait_until(lambda: len(sends()) >= 1, timeout=30)
    # Give the duplicates (some retried while the first held the lease) time to settle.
    assert not wait_until(lambda: len(sends()) > 1, timeout=8)
    assert len(sends()) == 1


def test_no_message_is_lost_in_a_mixed_workload(pipeline: Pipeline) -> None:
    people = [person() for _ in range(12)]
    flaky = people[:4]
    faults = [{"status": 503, "count": 2, "identifier": who} for who in flaky]
    pipeline.control.set_faults({"scripted": faults})
    raw = pubsub_v1.PublisherClient()
    for who in people:
        pipeline.publisher.publish(TrackEvent(identifiers=Identifiers(id=who), name="mixed", timestamp=1_700_000_000))
    invalid = [
        raw.publish(
            pipeline.stack.topology["track"].topic,
            json.dumps({"op": "event", "identifiers": {"id": who}}).encode(),
            marker="mixed",
        ).result()
        for who in people[:5]
    ]

    def delivered() -> set[str]:
        return {e["customer"] for e in pipeline.control.events() if e["name"] == "mixed"}

    assert wait_until(lambda: delivered() == set(people), timeout=60)
    letters = pipeline.wait_for_dead_letters("track", lambda m: m.attributes.get("marker") == "mixed", len(invalid))
    assert sorted(m.attributes["dlq_original_message_id"] for m in letters) == sorted(invalid)
    assert all(m.attributes["dlq_error_class"] == "InvalidMessageError" for m in letters)
    # Each person's event arrived exactly once, flaky or not; and every fault did bite.
    for who in people:
        assert len(events_of(pipeline, who)) == 1
    assert [f["count"] for f in pipeline.control.faults()["scripted"]] == [0] * len(flaky)
    assert all(503 in [r["status"] for r in requests_to(pipeline, who)] for who in flaky)
