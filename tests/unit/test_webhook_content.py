"""What webhook-ingest (and `webhooks reprocess`) accepts is what BigQuery will write: events
outside BigQuery's partition window, and numbers JSON cannot carry, are quarantined — item by
item, judged as of when they are published."""

from __future__ import annotations

import json
from typing import Any

import pytest

from customerio_gcp.pipeline import load
from customerio_gcp.webhooks.content import sort_content
from customerio_gcp.webhooks.rows import PARTITION_FUTURE_S, PARTITION_PAST_S, PersonalData

NOW = 1_800_000_000
DAY = 86_400


def event(event_id: str, timestamp: int = NOW - 60, **data: Any) -> dict[str, Any]:
    return {"event_id": event_id, "object_type": "email", "metric": "sent", "timestamp": timestamp, "data": data}


def sort(payload: Any, received: float = NOW, now: float | None = None) -> tuple[list[str], list[str]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    events, quarantined = sort_content(raw, received, PersonalData.HASH, now=now)
    return [e.attributes["event_id"] for e in events], [q.reason for q in quarantined]


def test_the_past_bound_leaves_room_for_the_events_topics_retention() -> None:
    """BigQuery's 10 years are at least 3,652 days; a row may be written up to the events
    topic's retention after it was judged, and must still be inside them then."""
    assert PARTITION_PAST_S + load().delivery.message_retention_s < 3652 * DAY
    assert PARTITION_FUTURE_S <= 365 * DAY


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        (NOW - PARTITION_PAST_S, True),
        (NOW - PARTITION_PAST_S - 1, False),
        (NOW + PARTITION_FUTURE_S, True),
        (NOW + PARTITION_FUTURE_S + 1, False),
    ],
    ids=["oldest", "one second older", "furthest ahead", "one second further"],
)
def test_the_partition_window_to_the_second(timestamp: int, accepted: bool) -> None:
    events, reasons = sort([event("e", timestamp), event("fine")])
    assert events == (["e", "fine"] if accepted else ["fine"])
    assert reasons == (
        [] if accepted else ["item 0: timestamp: outside the 10 years back and 1 year ahead BigQuery writes"]
    )


def test_reprocessing_judges_the_window_as_of_now_not_as_of_receipt() -> None:
    old = event("old", NOW - PARTITION_PAST_S + DAY)  # inside when received, outside 20 days later
    assert sort([old]) == (["old"], [])
    assert sort([old], now=NOW + 20 * DAY) == (
        [],
        ["item 0: timestamp: outside the 10 years back and 1 year ahead BigQuery writes"],
    )


@pytest.mark.parametrize("number", [b"NaN", b"-Infinity", b"Infinity", b"1e400"])
def test_a_number_json_cannot_carry_quarantines_its_item_alone(number: bytes) -> None:
    bad = json.dumps(event("bad", score=0)).encode().replace(b'"score": 0', b'"score": ' + number)
    raw = b"[" + json.dumps(event("good", score=1.5)).encode() + b", " + bad + b"]"
    assert sort(raw) == (["good"], ["item 1: a number JSON cannot carry (NaN, Infinity, or beyond a double)"])
    assert sort(bad) == ([], ["a number JSON cannot carry (NaN, Infinity, or beyond a double)"])


def test_ordinary_floats_and_large_integers_pass() -> None:
    assert sort([event("f", score=1e308, ratio=-0.0, big=10**30)]) == (["f"], [])
