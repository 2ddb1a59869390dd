"""Re-processing quarantined webhook content after a schema fix.

webhook-ingest quarantines, whole, any signed content it cannot parse (it answered Customer.io
2xx all the same). Once the code has been fixed, this re-judges each quarantined piece with the
runtime's own `sort_content` — the very code webhook-ingest runs — publishes the events that now
pass to the events topic (BigQuery and the application get them from there, de-duplicated on
`event_id`), and acknowledges the piece. A piece that still does not pass is left in the
quarantine subscription (not acknowledged), so nothing is lost by trying.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from customerio_gcp.webhooks.content import sort_content
from customerio_gcp.webhooks.quarantine import reassemble
from customerio_gcp.webhooks.rows import PersonalData
from customerio_gcp_ops.leases import LEASE_S, acknowledge, set_deadline

PULL_BATCH = 1  # pieces are chunked at 3 MiB: one per pull stays under gRPC's 4 MiB default
RENEW_EVERY_S = 20.0  # well inside the subscription's own ack deadline (60 s as Terraform sets it)


@dataclass
class ReprocessReport:
    pieces: int = 0
    events: int = 0
    still_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def reprocess(
    subscriber: Any,
    publisher: Any,
    quarantine_subscription: str,
    events_topic: str,
    personal: PersonalData,
    *,
    dry_run: bool = False,
    max_messages: int = 10_000,
    idle_s: float = 5.0,
) -> ReprocessReport:
    """`idle_s`: how long a pull waits for more before the backlog counts as read."""
    received = _pull_all(subscriber, quarantine_subscription, max_messages, idle_s)
    try:
        return _judge(subscriber, publisher, quarantine_subscription, events_topic, personal, received, dry_run)
    except BaseException:
        # Nothing was acknowledged yet: give every piece back at once rather than leave it leased
        # for minutes (events already published again are de-duplicated on event_id downstream).
        _settle(subscriber, quarantine_subscription, [], [item.ack_id for item in received])
        raise


def _judge(
    subscriber: Any,
    publisher: Any,
    quarantine_subscription: str,
    events_topic: str,
    personal: PersonalData,
    received: list[Any],
    dry_run: bool,
) -> ReprocessReport:
    by_piece: dict[str, list[Any]] = {}
    messages: list[tuple[bytes, dict[str, str]]] = []
    for item in received:
        # A message without a quarantine_id (published by hand) is a piece of its own.
        given: dict[str, str] = dict(item.message.attributes)
        given.setdefault("quarantine_id", item.message.message_id)
        by_piece.setdefault(given["quarantine_id"], []).append(item)
        messages.append((item.message.data, given))
    pieces = reassemble(messages)
    report = ReprocessReport(pieces=len(pieces))
    done: list[str] = []
    leave: list[str] = []
    renewed = time.monotonic()
    for quarantine_id, (data, attributes) in pieces.items():
        if time.monotonic() - renewed > RENEW_EVERY_S:  # publishing a long backlog outlasts a lease
            _lease(subscriber, quarantine_subscription, [item.ack_id for item in received])
            renewed = time.monotonic()
        received_at = float(attributes.get("received_at") or 0)
        # Judged as of now: BigQuery's partition window is measured from when the row is written.
        events, still = sort_content(data, received_at, personal, now=time.time())
        if still:
            report.still_quarantined += 1
            reason = still[0].reason.split(": ", 1)[-1]
            report.reasons[reason] = report.reasons.get(reason, 0) + 1
            leave += [item.ack_id for item in by_piece[quarantine_id]]
            continue
        if not dry_run:
            futures = [publisher.publish(events_topic, e.data, **e.attributes) for e in events]
            for future in futures:
                future.result(timeout=60)
        report.events += len(events)
        done += [item.ack_id for item in by_piece[quarantine_id]]
    incomplete = [item.ack_id for qid, items in by_piece.items() if qid not in pieces for item in items]
    _settle(
        subscriber, quarantine_subscription, [] if dry_run else done, leave + incomplete + (done if dry_run else [])
    )
    return report


def _pull_all(subscriber: Any, subscription: str, max_messages: int, idle_s: float) -> list[Any]:
    """Everything waiting, one piece per pull, until a pull waits `idle_s` for nothing. Pulls wait
    for messages (`return_immediately` is deprecated: Pub/Sub may answer it empty while a backlog
    exists), and what was pulled is leased for 10 minutes every 20 s meanwhile, so no piece comes
    back to this same run as a second copy before it is settled."""
    from google.api_core.exceptions import DeadlineExceeded

    received: dict[str, Any] = {}
    renewed = time.monotonic()
    while len(received) < max_messages:
        try:
            response = subscriber.pull(
                request={"subscription": subscription, "max_messages": PULL_BATCH}, timeout=idle_s
            )
        except DeadlineExceeded:
            break
        if not response.received_messages:
            break
        for item in response.received_messages:
            received[item.message.message_id] = item  # a redelivered copy replaces the stale ack id
        if time.monotonic() - renewed > RENEW_EVERY_S:
            _lease(subscriber, subscription, [item.ack_id for item in received.values()])
            renewed = time.monotonic()
    if received:
        _lease(subscriber, subscription, [item.ack_id for item in received.values()])
    return list(received.values())


def _lease(subscriber: Any, subscription: str, ack_ids: Sequence[str]) -> None:
    set_deadline(subscriber, subscription, ack_ids, LEASE_S)


def _settle(subscriber: Any, subscription: str, ack: Sequence[str], release: Sequence[str]) -> None:
    acknowledge(subscriber, subscription, ack)
    set_deadline(subscriber, subscription, release, 0)  # back to the subscription at once, for the next try
