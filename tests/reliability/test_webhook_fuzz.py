"""webhook-ingest under thousands of generated requests (WEBHOOK_FUZZ_EXAMPLES, default 1500):
never a 5xx; nothing kept for an unsigned, forged, stale or future-dated request; every signed
request answered 200 with each item kept (an event, or quarantined). Every time-window case uses
an injected clock, so no case depends on when the second turns."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.keeping import EventKeeper
from customerio_gcp.webhooks.signature import MAX_AGE_S, MAX_AHEAD_S, signed_headers
from tests.conftest import pull_now, topic_with_subscription

EXAMPLES = int(os.environ.get("WEBHOOK_FUZZ_EXAMPLES", "1500"))
KEY = "fuzz-signing-key"
NOW = 1_800_000_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {"event_id": st.text(min_size=1, max_size=20), "object_type": st.sampled_from(["email", "sms", "push", "x"]),
     "metric": st.sampled_from(["sent", "opened", "bounced", "new"]), "timestamp": st.integers(0, 2**33)},
    optional={"data": json_values},
)  # fmt: skip
bodies = (
    st.binary(max_size=400)
    | json_values.map(lambda v: json.dumps(v).encode())
    | event_like.map(lambda e: json.dumps(e).encode())
)


def handler(unique: str, name: str) -> tuple[WebhookHandler, str, str]:
    events_topic, events = topic_with_subscription(f"{name}-events-{unique}")
    quarantine_topic, quarantine = topic_with_subscription(f"{name}-quarantine-{unique}")
    keeper = EventKeeper(events_topic, quarantine_topic)
    return WebhookHandler(lambda _stale: [KEY], keeper, clock=lambda: NOW), events, quarantine


def test_unsigned_forged_and_stale_requests_never_5xx_and_never_keep(pubsub_emulator: str, unique: str) -> None:
    handle, events, quarantine = handler(unique, "fuzz")
    statuses: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "post"]),
        headers=st.dictionaries(
            st.sampled_from(["X-CIO-Timestamp", "X-CIO-Signature", "Content-Type"]), st.text(max_size=80)
        ),
        body=bodies,
        how=st.sampled_from(["unsigned", "forged", "stale", "future", "garbage"]),
    )
    def request(method: str, headers: dict[str, str], body: bytes, how: str) -> None:
        if how == "forged":
            headers = signed_headers(body, "not-the-key", NOW)
        elif how == "stale":
            headers = signed_headers(body, KEY, NOW - MAX_AGE_S - 1)
        elif how == "future":
            headers = signed_headers(body, KEY, NOW + MAX_AHEAD_S + 1)
        elif how == "unsigned":
            headers = {}
        response = handle.handle(method, headers, body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status in (401, 405), response

    request()
    print(f"\nwebhook fuzz: {sum(statuses.values())} requests, answers {dict(sorted(statuses.items()))}")
    assert pull_now(events) == [] and pull_now(quarantine) == []


def test_signed_arbitrary_bodies_are_always_200_and_kept(pubsub_emulator: str, unique: str) -> None:
    handle, events, quarantine = handler(unique, "fuzz-signed")
    statuses: dict[int, int] = {}
    kept = [0]

    @settings(
        max_examples=max(100, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(payload=json_values | event_like | st.lists(event_like, max_size=3), age=st.integers(0, MAX_AGE_S))
    def request(payload: object, age: int) -> None:
        body = json.dumps(payload).encode()
        response = handle.handle("POST", signed_headers(body, KEY, NOW - age), body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status == 200, response
        kept[0] += response.body["accepted"] + response.body["quarantined"]

    request()
    print(f"\nsigned webhook fuzz: answers {dict(sorted(statuses.items()))}, {kept[0]} pieces kept")
    held = 0
    while batch := pull_now(events, 1000):
        held += len(batch)
    while batch := pull_now(quarantine, 1000):
        held += len(batch)
    assert held == kept[0]  # every accepted piece is in Pub/Sub: nothing answered 200 was dropped
