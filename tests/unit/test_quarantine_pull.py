"""`webhooks reprocess` against Pub/Sub's real answers, which the emulator does not all give: a
pull that waits and runs out (DeadlineExceeded), a message redelivered while the backlog is read,
leases renewed while reading and publishing, requests of at most 1,000 ack ids, and every lease
given back when the run fails."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from customerio_gcp_ops import quarantine
from google.api_core.exceptions import DeadlineExceeded

from customerio_gcp.webhooks.rows import PersonalData

SUBSCRIPTION = "projects/p/subscriptions/quarantine"


def received(message_id: str, ack_id: str, data: bytes = b"not json") -> Any:
    message = SimpleNamespace(message_id=message_id, data=data, attributes={"received_at": "1800000000"})
    return SimpleNamespace(message=message, ack_id=ack_id)


class FakeSubscriber:
    """Answers each pull from a script; then waits for nothing, as real Pub/Sub does."""

    def __init__(self, script: list[list[Any]]) -> None:
        self._script = iter(script)
        self.leases: list[tuple[list[str], int]] = []
        self.acked: list[str] = []

    def pull(self, request: dict[str, Any], timeout: float) -> Any:
        assert "return_immediately" not in request  # deprecated: may answer empty with a backlog
        batch = next(self._script, None)
        if batch is None:
            raise DeadlineExceeded("no message within the deadline")
        return SimpleNamespace(received_messages=batch)

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        assert len(request["ack_ids"]) <= 1000
        self.leases.append((list(request["ack_ids"]), request["ack_deadline_seconds"]))

    def acknowledge(self, request: dict[str, Any]) -> None:
        assert len(request["ack_ids"]) <= 1000
        self.acked += request["ack_ids"]


@pytest.fixture
def fast_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reading 25 s after the last: every loop turn is due for a lease renewal."""
    ticks = itertools.count(0, 25)
    monkeypatch.setattr(quarantine.time, "monotonic", lambda: float(next(ticks)))


def test_reading_stops_when_a_pull_waits_in_vain_and_keeps_the_latest_copy(fast_clock: None) -> None:
    subscriber = FakeSubscriber([[received("m1", "a1")], [received("m2", "a2")], [received("m1", "a1-again")]])
    got = quarantine._pull_all(subscriber, SUBSCRIPTION, 10_000, idle_s=5)
    assert sorted((r.message.message_id, r.ack_id) for r in got) == [("m1", "a1-again"), ("m2", "a2")]
    renewals = [ids for ids, seconds in subscriber.leases if seconds == quarantine.LEASE_S]
    assert len(renewals) >= 3 and set(renewals[-1]) == {"a1-again", "a2"}  # renewed as it read, then all


def test_leases_and_settlements_go_in_requests_of_at_most_1000(fast_clock: None) -> None:
    many = [[received(f"m{i}", f"a{i}") for i in range(start, start + 500)] for start in range(0, 2500, 500)]
    subscriber = FakeSubscriber(many)
    report = quarantine.reprocess(subscriber, None, SUBSCRIPTION, "projects/p/topics/events", PersonalData.HASH)
    assert report.pieces == 2500 and report.still_quarantined == 2500
    everyone = sorted(f"a{i}" for i in range(2500))
    leased = {ack for ids, seconds in subscriber.leases if seconds == quarantine.LEASE_S for ack in ids}
    assert sorted(leased) == everyone  # each held while the rest was read and judged
    released = [ack for ids, seconds in subscriber.leases if seconds == 0 for ack in ids]
    assert sorted(released) == everyone and subscriber.acked == []


def test_a_failed_run_gives_every_piece_back_at_once() -> None:
    good = b'{"event_id": "e1", "object_type": "email", "metric": "sent", "timestamp": 1800000000, "data": {}}'
    subscriber = FakeSubscriber([[received("m1", "a1", good), received("m2", "a2", good)]])

    class DownPublisher:
        def publish(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("Pub/Sub unreachable")

    with pytest.raises(ConnectionError):
        quarantine.reprocess(subscriber, DownPublisher(), SUBSCRIPTION, "projects/p/topics/events", PersonalData.HASH)
    released = [ack for ids, seconds in subscriber.leases if seconds == 0 for ack in ids]
    assert sorted(released) == ["a1", "a2"] and subscriber.acked == []


def test_reprocessing_judges_bigquerys_window_as_of_now() -> None:
    """An event inside the partition window when webhook-ingest took it, 30 days ago, and outside
    it now: published now, BigQuery would refuse its row, so it stays quarantined."""
    import json
    import time

    from customerio_gcp.webhooks.rows import PARTITION_PAST_S

    taken = int(time.time()) - 30 * 86_400
    old = {"event_id": "e1", "object_type": "email", "metric": "sent", "timestamp": taken - PARTITION_PAST_S + 86_400}
    message = SimpleNamespace(message_id="m1", data=json.dumps(old).encode(), attributes={"received_at": str(taken)})
    subscriber = FakeSubscriber([[SimpleNamespace(message=message, ack_id="a1")]])
    report = quarantine.reprocess(subscriber, None, SUBSCRIPTION, "projects/p/topics/events", PersonalData.HASH)
    assert (report.events, report.still_quarantined) == (0, 1)
    assert list(report.reasons) == ["outside the 10 years back and 1 year ahead BigQuery writes"]
