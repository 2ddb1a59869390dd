"""Zero loss under faults: messages across the three topics while Customer.io (the sandbox)
answers 30% 5xx, 10% 429 with Retry-After and 5% too slowly, and one function's serving process is
killed mid-run (its gunicorn master starts a new one, as Cloud Run replaces a crashed instance). Every message must end delivered exactly once (by ULID / idempotency key)
or in a dead-letter topic with a reason; no transactional send twice.

Size: SOAK_MESSAGES (default 2000 in `make test`/CI; `make soak` runs 20000).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter

import pytest
from customerio_gcp_local.stack import LocalStack
from ulid import ULID

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import IdentifyPerson, SendEmail, TrackEvent

MESSAGES = int(os.environ.get("SOAK_MESSAGES", "2000"))


@pytest.mark.timeout(900)
def test_zero_loss_under_faults_and_a_crash(stack: LocalStack) -> None:
    control = stack.control
    control.set_faults(
        {"rate_5xx": 0.30, "rate_429": 0.10, "retry_after": 1, "slow_rate": 0.05, "slow_seconds": 1.5, "seed": 7}
    )
    run = uuid.uuid4().hex[:6]
    identifies: dict[str, str] = {}  # person -> marker value
    events: dict[str, str] = {}  # ULID -> person
    sends: dict[str, str] = {}  # idempotency key -> message id
    messages = []
    for i in range(MESSAGES):
        who = f"soak-{run}-{i}"
        kind = i % 3
        if kind == 0:
            identifies[who] = f"v{i}"
            messages.append(
                IdentifyPerson(
                    identifiers=Identifiers(id=who), attributes={"marker": f"v{i}"}, timestamp=1_700_000_000 + i
                )
            )
        elif kind == 1:
            ulid = str(ULID.from_timestamp(1_700_000_000 + i))
            events[ulid] = who
            messages.append(
                TrackEvent(identifiers=Identifiers(id=who), name="soak", timestamp=1_700_000_000 + i, event_id=ulid)
            )
        else:
            key = f"soak-{run}-{i}"
            sends[key] = who
            messages.append(SendEmail(transactional_message_id=1, to=f"{who}@example.com", identifiers=Identifiers(id=who),
                                      message_data={"key": key}, idempotency_key=key))  # fmt: skip

    publisher = stack.publisher()
    started = time.monotonic()
    half = len(messages) // 2
    publisher.publish_many(messages[:half])
    crash = threading.Thread(target=lambda: (time.sleep(2), stack.crash_function_worker("track")))
    crash.start()
    publisher.publish_many(messages[half:])
    crash.join()

    dead: dict[str, list] = {"identify": [], "track": [], "transactional": []}

    def accounted() -> dict[str, int]:
        for kind in dead:
            dead[kind].extend(stack.pull_dead_letters(kind, ack=True, max_messages=1000))
        people = {p: control.person(p) for p in identifies} if len(identifies) < 500 else _people(stack, identifies)
        delivered_identifies = sum(
            1 for p, marker in identifies.items() if people.get(p) and people[p]["attributes"].get("marker") == marker
        )
        seen_events = Counter(e["id"] for e in stack.sandbox.workspace.events if e.get("id") in events)  # type: ignore[union-attr]
        deliveries = Counter(d["request"]["message_data"]["key"] for d in stack.sandbox.workspace.deliveries  # type: ignore[union-attr]
                             if d["request"].get("message_data", {}).get("key") in sends)  # fmt: skip
        return {
            "identify_delivered": delivered_identifies,
            "track_delivered": len(seen_events),
            "track_duplicates_applied": sum(c - 1 for c in seen_events.values()),
            "sends_delivered": len(deliveries),
            "sends_duplicated": sum(1 for c in deliveries.values() if c > 1),
            "dead_identify": len(dead["identify"]),
            "dead_track": len(dead["track"]),
            "dead_transactional": len(dead["transactional"]),
        }

    deadline = time.monotonic() + 600
    while True:
        counts = accounted()
        if os.environ.get("SOAK_VERBOSE"):
            print(f"{time.monotonic() - started:.0f}s {counts}", flush=True)
        settled_identify = counts["identify_delivered"] + counts["dead_identify"] >= len(identifies)
        settled_track = counts["track_delivered"] + counts["dead_track"] >= len(events)
        settled_sends = counts["sends_delivered"] + counts["dead_transactional"] >= len(sends)
        if (settled_identify and settled_track and settled_sends) or time.monotonic() > deadline:
            break
        time.sleep(2)
    control.set_faults({})

    dead_reasons = Counter(m.attributes.get("dlq_error_class", "RetriesExhausted") for kind in dead for m in dead[kind])
    requests = Counter(str(r["status"]) for r in control.requests())
    print(
        f"\nzero-loss accounting: {MESSAGES} messages in {time.monotonic() - started:.0f}s, the 'track' function's worker killed mid-run"
    )
    print(f"  Customer.io answers: {dict(sorted(requests.items()))}")
    print(
        f"  identify: {counts['identify_delivered']} delivered, {counts['dead_identify']} dead-lettered of {len(identifies)}"
    )
    print(
        f"  track: {counts['track_delivered']} delivered (duplicates ignored by ULID), {counts['dead_track']} dead-lettered of {len(events)}"
    )
    print(f"  transactional: {counts['sends_delivered']} sent, {counts['dead_transactional']} dead-lettered of {len(sends)}, "
          f"{counts['sends_duplicated']} sent twice")  # fmt: skip
    print(f"  dead letters by reason: {dict(dead_reasons)}")

    # Dead letters must each name their message: map them back.
    dead_people = {json.loads(m.data)["identifiers"]["id"] for kind in dead for m in dead[kind]}
    lost_identifies = [p for p, marker in identifies.items()
                       if p not in dead_people and (stack.sandbox.workspace.people.get(p) is None  # type: ignore[union-attr]
                                                    or stack.sandbox.workspace.people[p].attributes.get("marker") != marker)]  # type: ignore[union-attr]  # fmt: skip
    seen = {e["id"] for e in stack.sandbox.workspace.events}  # type: ignore[union-attr]
    lost_events = [u for u, who in events.items() if u not in seen and who not in dead_people]
    sent_keys = {d["request"].get("message_data", {}).get("key") for d in stack.sandbox.workspace.deliveries}  # type: ignore[union-attr]
    lost_sends = [k for k, who in sends.items() if k not in sent_keys and who not in dead_people]
    print(f"  lost: {len(lost_identifies) + len(lost_events) + len(lost_sends)}")
    assert lost_identifies == [] and lost_events == [] and lost_sends == []
    assert counts["sends_duplicated"] == 0
    assert all(
        m.attributes.get("dlq_reason") or m.attributes.get("CloudPubSubDeadLetterSourceDeliveryCount")
        for k in dead
        for m in dead[k]
    )


def _people(stack: LocalStack, identifies: dict[str, str]) -> dict[str, dict | None]:
    workspace = stack.sandbox.workspace  # type: ignore[union-attr]
    with workspace.lock:
        return {
            p: ({"attributes": dict(workspace.people[p].attributes)} if p in workspace.people else None)
            for p in identifies
        }
