"""Never lost, never sent twice, under every combination of a Firestore failure at a step of the
send-once guard and an answer from Customer.io, through the real delivery handler.

Firestore is the real emulator; a failing step is the real store with that one call failing (as
when Firestore is unavailable, times out or aborts on contention), for the first delivery only.
Customer.io is the sandbox, which can apply a send and then answer 500 or reset the connection,
answer 200 with a body that is not JSON, or take longer than the client waits. Pub/Sub is played
faithfully: a delivery that raises is redelivered (here up to 6 times, the clock moved past the
lease in between — the worst case for a takeover); one that returns is acknowledged, and is then
delivered once more (Pub/Sub delivers at least once). Sends are counted at the sandbox by what it
applied, whatever it answered.

Invariant per case: at most one send; and none only if the message sits in its dead-letter topic
(ours, with the reason; or Pub/Sub's, after the attempts run out).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from customerio_gcp_local.push import cloud_event_data, push_body
from customerio_sandbox import Sandbox, SandboxControl
from google.api_core.exceptions import ServiceUnavailable

from customerio_gcp.customerio import AppClient, TrackClient
from customerio_gcp.customerio.transport import RetryPolicy
from customerio_gcp.delivery import DeadLetterPublisher, DeliveryOutcome, PubSubDelivery
from customerio_gcp.idempotency import IdempotencyGuard, IdempotencyRecord, Status
from customerio_gcp.idempotency.firestore_store import FirestoreStore
from customerio_gcp.service import MessagingService
from tests.conftest import pull_now, topic_with_subscription

FIRESTORE_STEPS = ["none", "create", "complete", "mark_unknown", "release"]
ANSWERS = {
    "accepted": None,
    "503": {"scripted": [{"status": 503, "count": 1}]},
    "500": {"scripted": [{"status": 500, "count": 1}]},
    "apply_then_500": {"scripted": [{"apply_then_status": 500, "count": 1}]},
    "read_timeout": {"slow_rate": 1.0, "slow_seconds": 1.5},
    "reset_after_send": {"scripted": [{"apply_then_reset": True, "count": 1}]},
    "garbage_200": {"scripted": [{"garbage_body": True, "count": 1}]},
}
REDELIVERIES = 6
LEASE_S = 120.0


class FailingStep:
    """The real Firestore store, with one step of the guard failing while `armed`."""

    def __init__(self, store: FirestoreStore, step: str) -> None:
        self._store = store
        self.step = step
        self.armed = True

    def _fail(self, step: str) -> None:
        if self.armed and self.step == step:
            raise ServiceUnavailable(f"Firestore unavailable during {step}")

    def create(self, record: IdempotencyRecord) -> bool:
        self._fail("create")
        return self._store.create(record)

    def get(self, key: str) -> IdempotencyRecord | None:
        return self._store.get(key)

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        self._fail({Status.COMPLETED: "complete", Status.UNKNOWN: "mark_unknown"}.get(record.status, "replace"))
        return self._store.replace(record, expected_token=expected_token)

    def delete(self, key: str, *, expected_token: str) -> bool:
        self._fail("release")
        return self._store.delete(key, expected_token=expected_token)


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def dead_letters(pubsub_emulator: str) -> tuple[str, str]:
    return topic_with_subscription(f"matrix-dlq-{next(_ids)}")


_ids = itertools.count(1)


def deliver_as_pubsub(handle: Callable[[Any], DeliveryOutcome], body: dict, before_retry: Callable[[], None]) -> str:
    """Deliver until acknowledged; then once more, as at-least-once delivery may."""
    for _ in range(REDELIVERIES):
        try:
            outcome = handle(cloud_event_data(body))
        except Exception:  # the function answers 500: Pub/Sub redelivers after its backoff
            before_retry()
            continue
        try:
            handle(cloud_event_data(body))  # the duplicate delivery
        except Exception:  # a duplicate that fails is redelivered too: still at most one send
            before_retry()
            handle(cloud_event_data(body))
        return outcome.value
    return "pubsub_dead_lettered"  # attempts exhausted: Pub/Sub moves it to the dead-letter topic


@pytest.mark.parametrize(("step", "answer"), list(itertools.product(FIRESTORE_STEPS, ANSWERS)))
def test_never_twice_never_lost(
    step: str, answer: str, sandbox: Sandbox, firestore_client: Any, dead_letters: tuple[str, str], unique: str
) -> None:
    control = SandboxControl(sandbox.url)
    control.set_faults(ANSWERS[answer] or {})
    now = [1_800_000_000.0]
    store = FailingStep(FirestoreStore(firestore_client, f"matrix-{unique}"), step)
    guard = IdempotencyGuard(store, lease_s=LEASE_S, clock=lambda: now[0], pause=lambda _s: None)
    creds = sandbox.credentials
    client = httpx.Client(timeout=httpx.Timeout(1.0, connect=1.0))
    no_retry = RetryPolicy(attempts=1)
    service = MessagingService(
        TrackClient.with_credentials(creds.site_id, creds.track_api_key, base_url=sandbox.url, retry=no_retry),
        AppClient.with_key(creds.app_api_key, base_url=sandbox.url, client=client, retry=no_retry),
        guard=guard,
    )
    topic, subscription = dead_letters
    handle = PubSubDelivery("transactional", service, DeadLetterPublisher(topic), "projects/p/subscriptions/s")
    to = f"{step}-{answer}-{unique}@example.com"
    message = {"op": "send_email", "transactional_message_id": 1, "to": to, "identifiers": {"id": unique},
               "idempotency_key": f"matrix-{unique}"}  # fmt: skip
    body = push_body(json.dumps(message).encode(), message_id=f"m-{unique}")

    def before_retry() -> None:
        store.armed = False  # Firestore is back
        control.set_faults({})  # and Customer.io answers normally again
        now[0] += LEASE_S + 1  # Pub/Sub's backoff: past the lease, the worst case

    outcome = deliver_as_pubsub(handle, body, before_retry)
    control.set_faults({})
    sent = [d for d in control.deliveries() if d["request"].get("to") == to]
    ours = [m for m in pull_now(subscription, 1000) if m.attributes.get("dlq_original_message_id") == f"m-{unique}"]
    dead_lettered = bool(ours) or outcome == "pubsub_dead_lettered"
    assert len(sent) <= 1, f"sent {len(sent)} times ({outcome})"
    assert sent or dead_lettered, f"never sent and not dead-lettered ({outcome})"
    if ours:
        assert ours[0].attributes["dlq_reason"]  # with the reason
        assert outcome == "dead_lettered" or outcome == "delivered"
    control.close()
