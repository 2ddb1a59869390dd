"""A corpus of malformed messages: every one dead-lettered on its first attempt with a reason,
none retried, nothing sent to Customer.io."""

from __future__ import annotations

import json
import time
import uuid

from customerio_gcp_local.stack import LocalStack
from google.cloud import pubsub_v1

CORPUS: list[tuple[str, bytes, str]] = [
    ("identify", b"{not json", "InvalidMessageError"),
    ("identify", b"\xff\xfe\x00binary", "InvalidMessageError"),
    # An empty body is the one case functions-framework refuses before our code runs (it needs a
    # `data` field): Pub/Sub retries it and dead-letters it itself after the configured attempts.
    ("identify", b"", "RetriesExhausted"),
    ("identify", b"[1, 2, 3]", "InvalidMessageError"),
    ("identify", json.dumps({"v": 2, "op": "identify", "identifiers": {"id": "u"}}).encode(), "InvalidMessageError"),
    ("identify", json.dumps({"v": "one", "op": "identify", "identifiers": {"id": "u"}}).encode(), "InvalidMessageError"),
    ("identify", json.dumps({"op": "identify", "identifiers": {"id": "u", "email": "u@example.com"}}).encode(), "InvalidMessageError"),
    ("identify", json.dumps({"op": "identify", "identifiers": {}}).encode(), "InvalidMessageError"),
    ("identify", json.dumps({"op": "identify", "identifiers": {"id": "x" * 151}}).encode(), "LimitExceededError"),
    ("identify", json.dumps({"op": "identify", "identifiers": {"id": "u"}, "attributes": {"bio": "x" * 1001}}).encode(), "LimitExceededError"),
    ("identify", json.dumps({"op": "identify", "identifiers": {"id": "u"}, "attributes": {f"a{i}": i for i in range(301)}}).encode(), "LimitExceededError"),
    ("identify", json.dumps({"op": "add_device", "identifiers": {"id": "u"}, "device_id": "t", "platform": "windows"}).encode(), "InvalidMessageError"),
    ("identify", json.dumps({"op": "merge", "primary": {"id": "a"}}).encode(), "InvalidMessageError"),
    ("track", json.dumps({"op": "event", "identifiers": {"id": "u"}, "name": "x", "timestamp": "yesterday"}).encode(), "InvalidMessageError"),
    ("track", json.dumps({"op": "event", "identifiers": {"id": "u"}, "name": "x"}).encode(), "InvalidMessageError"),
    ("track", json.dumps({"op": "event", "identifiers": {"id": "u"}, "name": "n" * 101, "timestamp": 1}).encode(), "LimitExceededError"),
    ("track", json.dumps({"op": "event", "identifiers": {"id": "u"}, "name": "x", "timestamp": 1, "data": {"blob": "x" * 100_001}}).encode(), "LimitExceededError"),
    ("track", json.dumps({"op": "identify", "identifiers": {"id": "u"}}).encode(), "InvalidMessageError"),
    # A phone on a Track v1 call (merges and update-only identifies stay v1; coalesced events go as
    # v2, which takes phone: tests/integration/test_coalescing.py checks both modes).
    ("identify", json.dumps({"op": "identify", "identifiers": {"phone": "+1555"}, "attributes": {"a": 1}, "update_only": True}).encode(), "BadRequestError"),
    ("identify", json.dumps({"op": "merge", "primary": {"phone": "+1555"}, "secondary": {"id": "u"}}).encode(), "BadRequestError"),
    ("transactional", json.dumps({"op": "send_email", "identifiers": {"id": "u"}, "to": "u@example.com"}).encode(), "InvalidMessageError"),
    ("transactional", json.dumps({"op": "send_email", "transactional_message_id": 1, "identifiers": {"id": "u"}}).encode(), "InvalidMessageError"),
    ("transactional", json.dumps({"op": "trigger_broadcast", "broadcast_id": 1, "ids": ["1"], "emails": ["a@example.com"]}).encode(), "InvalidMessageError"),
    ("transactional", json.dumps({"op": "trigger_broadcast", "broadcast_id": 1, "recipients": {}}).encode(), "InvalidMessageError"),
    ("transactional", json.dumps({"op": "trigger_broadcast", "broadcast_id": 1, "ids": [str(i) for i in range(10_001)]}).encode(), "LimitExceededError"),
]  # fmt: skip


def test_malformed_messages_are_dead_lettered_on_the_first_attempt(stack: LocalStack) -> None:
    run = uuid.uuid4().hex[:8]
    publisher = pubsub_v1.PublisherClient()
    requests_before = len(stack.control.requests())
    expected: dict[str, str] = {}  # corpus tag -> error class
    message_ids: dict[str, str] = {}  # corpus tag -> published message id
    for i, (kind, data, error_class) in enumerate(CORPUS):
        tag = f"{run}-{i}"
        message_ids[tag] = publisher.publish(stack.topology[kind].topic, data, corpus=tag).result()
        expected[tag] = error_class

    letters: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + 60
    while len(letters) < len(expected) and time.monotonic() < deadline:
        for kind in ("identify", "track", "transactional"):
            for message in stack.pull_dead_letters(kind, ack=True):
                tag = message.attributes.get("corpus", "")
                if tag.startswith(run):  # the original attributes travel with every dead letter
                    error_class = message.attributes.get("dlq_error_class", "RetriesExhausted")
                    letters[tag] = dict(message.attributes) | {"dlq_error_class": error_class}
        time.sleep(0.5)

    assert set(letters) == set(expected)
    for tag, attributes in letters.items():
        assert attributes["dlq_error_class"] == expected[tag], attributes
        if expected[tag] != "RetriesExhausted":
            assert attributes["dlq_reason"]
            assert "CloudPubSubDeadLetterSourceDeliveryCount" not in attributes  # not moved by Pub/Sub after retries
    assert len(stack.control.requests()) == requests_before  # nothing reached Customer.io

    # None was retried: each message appears in exactly one function log line, its dead-lettering.
    lines = []
    for function in stack.functions.values():
        for line in function.process.log_path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("message_id") in message_ids.values():
                    lines.append(entry)
    handled = sorted(message_ids[t] for t, error in expected.items() if error != "RetriesExhausted")
    assert sorted(e["message_id"] for e in lines if e.get("metric") == "delivery") == handled
    assert all(e["outcome"] == "dead_lettered" for e in lines if e.get("metric") == "delivery")
