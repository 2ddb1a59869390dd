"""`dlq` against Pub/Sub answers the emulator does not give: a dead-letter subscription the
operator cannot read (or that does not exist) after others were leased, and the error text a
BigQuery subscription's dead letters carry."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from customerio_gcp_ops import dead_letters as dlq
from customerio_gcp_ops.names import dead_letter_paths
from google.api_core.exceptions import DeadlineExceeded, PermissionDenied


def received(message_id: str, ack_id: str, **attributes: str) -> Any:
    message = SimpleNamespace(
        message_id=message_id, data=b"{}", attributes=attributes, publish_time=datetime(2026, 11, 1, tzinfo=UTC)
    )
    return SimpleNamespace(message=message, ack_id=ack_id)


class FakeSubscriber:
    def __init__(self, script: dict[str, list[Any]], forbidden: set[str]) -> None:
        self._script = {name: iter(batches) for name, batches in script.items()}
        self._forbidden = forbidden
        self.leases: list[tuple[str, list[str], int]] = []

    def pull(self, request: dict[str, Any], timeout: float) -> Any:
        name = request["subscription"]
        if name in self._forbidden:
            raise PermissionDenied("no pubsub.subscriptions.consume")
        batch = next(self._script.get(name, iter(())), None)
        if batch is None:
            raise DeadlineExceeded("no message within the deadline")
        return SimpleNamespace(received_messages=batch)

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        self.leases.append((request["subscription"], list(request["ack_ids"]), request["ack_deadline_seconds"]))


def test_a_subscription_that_cannot_be_read_gives_back_what_was_leased_before_it() -> None:
    paths = dead_letter_paths("p")
    identify, bigquery = paths["identify"], paths["webhook-bigquery"]
    subscriber = FakeSubscriber(
        {identify.dead_letter_subscription: [[received("m1", "a1"), received("m2", "a2")]]},
        forbidden={bigquery.dead_letter_subscription},
    )
    with pytest.raises(PermissionDenied), dlq.leased(subscriber, [identify, bigquery]):
        pass
    given_back = [ack for name, ids, seconds in subscriber.leases if seconds == 0 for ack in ids]
    assert sorted(given_back) == ["a1", "a2"]  # not held for LEASE_S: visible to the next command at once


def test_bigquerys_error_text_is_the_reason_with_personal_data_masked() -> None:
    letter = dlq.DeadLetter(
        kind="webhook-bigquery",
        ack_id="a",
        message_id="m",
        data=b"{}",
        attributes={
            "CloudPubSubDeadLetterSourceDeliveryCount": "100",
            dlq.DELIVERY_ERROR_ATTRIBUTE: "Field recipient: value ada@example.com too long " + "x" * 500,
        },
        dead_lettered_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert letter.reason.startswith("100 delivery attempts failed: Field recipient: value <email> too long")
    assert "ada@example.com" not in letter.reason and len(letter.reason) < 260
    assert letter.error_class == "RetriesExhausted"


def test_the_routing_subscriptions_dead_letters_name_the_application_not_a_function() -> None:
    letter = dlq.DeadLetter("webhook-routing", "a", "m", b"{}", {}, datetime(2026, 11, 1, tzinfo=UTC))
    assert "application" in letter.reason and "function" not in letter.reason
