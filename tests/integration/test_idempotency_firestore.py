"""Send-once protection against the real Firestore emulator (and the same rules on the in-memory
store, so a second backend is held to the same contract)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from customerio_sandbox import SandboxControl

from customerio_gcp.customerio import AppClient, Identifiers, RateLimitedError
from customerio_gcp.customerio.app import EmailRequest
from customerio_gcp.customerio.track import TrackClient
from customerio_gcp.idempotency import (
    IdempotencyGuard,
    IdempotencyKeyReusedError,
    IdempotencyRecord,
    IdempotencyStore,
    InMemoryStore,
    OutcomeUnknownError,
    SendInProgressError,
    Status,
)
from customerio_gcp.idempotency.firestore_store import FirestoreStore
from customerio_gcp.service import MessagingService

EMAIL = EmailRequest(transactional_message_id=9, to="ada@example.com", identifiers=Identifiers(id="u1"))


@pytest.fixture(params=["firestore", "memory"])
def store(request: pytest.FixtureRequest, unique: str) -> IdempotencyStore:
    if request.param == "memory":
        return InMemoryStore()
    client = request.getfixturevalue("firestore_client")
    return FirestoreStore(client, f"idem-{unique}")


def service_with(track: TrackClient, app: AppClient, guard: IdempotencyGuard) -> MessagingService:
    return MessagingService(track, app, guard=guard)


def test_eight_concurrent_duplicate_sends_reach_customerio_once(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    service = service_with(track, app, IdempotencyGuard(store))
    # Keep the winner in flight until every loser has met its record (on a loaded machine a
    # loser's create and read on the emulator can take a good part of a second).
    control.set_faults({"slow_rate": 1.0, "slow_seconds": 2.0})
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait()
        try:
            service.send_transactional(EMAIL, idempotency_key="order-42")
            result = "sent"
        except SendInProgressError:
            result = "in_progress"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert len(control.requests("send_email")) == 1
    assert sorted(outcomes) == ["in_progress"] * 7 + ["sent"]
    # Once completed, a redelivered duplicate replays the stored result without a request.
    replay = service.send_transactional(EMAIL, idempotency_key="order-42")
    assert replay.delivery_id == control.deliveries()[0]["delivery_id"]
    assert len(control.requests("send_email")) == 1


def test_same_content_without_a_key_is_sent_once(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    service = service_with(track, app, IdempotencyGuard(store))
    first = service.send_transactional(EMAIL)
    second = service.send_transactional(EMAIL)
    assert first == second
    assert len(control.requests("send_email")) == 1
    other = EMAIL.model_copy(update={"to": "grace@example.com"})
    service.send_transactional(other)
    assert len(control.requests("send_email")) == 2


def test_a_send_that_failed_before_reaching_customerio_can_be_retried(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    service = service_with(track, app, IdempotencyGuard(store))
    control.set_faults({"scripted": [{"status": 429, "count": 3, "retry_after": 0}]})  # more than 3 attempts
    with pytest.raises(RateLimitedError):
        service.send_transactional(EMAIL, idempotency_key="k1")
    delivery = service.send_transactional(EMAIL, idempotency_key="k1")
    assert delivery.delivery_id
    assert [r["status"] for r in control.requests("send_email")] == [429, 429, 429, 200]


def test_an_ambiguous_failure_is_not_repeated_until_an_operator_approves(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    guard = IdempotencyGuard(store)
    service = service_with(track, app, guard)
    control.set_faults({"scripted": [{"status": 500, "count": 1}]})  # may have been sent
    with pytest.raises(OutcomeUnknownError) as caught:
        service.send_transactional(EMAIL, idempotency_key="k-unknown")
    assert not caught.value.retryable  # permanent: it goes to the dead-letter topic with this reason
    assert "--resend-unknown" in caught.value.reason
    record = store.get("send_email:k-unknown")
    assert record is not None and record.status is Status.UNKNOWN
    with pytest.raises(OutcomeUnknownError):  # a redelivery does not send it again
        service.send_transactional(EMAIL, idempotency_key="k-unknown")
    assert len(control.requests("send_email")) == 1
    assert guard.approve_resend("send_email:k-unknown")  # the operator's decision, in the record itself
    delivery = service.send_transactional(EMAIL, idempotency_key="k-unknown")
    assert [r["status"] for r in control.requests("send_email")] == [500, 200]
    assert service.send_transactional(EMAIL, idempotency_key="k-unknown") == delivery  # completed now
    assert not guard.approve_resend("send_email:k-unknown")  # nothing left to approve


def test_an_expired_lease_is_unknown_never_taken_over(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    now = [1_000_000.0]
    guard = IdempotencyGuard(store, lease_s=60, clock=lambda: now[0])
    service = service_with(track, app, guard)
    # An attempt that crashed after taking the record: IN_PROGRESS, never completed or released.
    # It may have crashed after Customer.io accepted the send: only a person can tell.
    payload = EMAIL.body()
    from customerio_gcp.ids import content_hash

    crashed = IdempotencyRecord(
        "send_email:k2", Status.IN_PROGRESS, content_hash(payload), "crashed", now[0] + 60, now[0] + 1e6
    )
    assert store.create(crashed)
    with pytest.raises(SendInProgressError):  # within the lease: retried later
        service.send_transactional(EMAIL, idempotency_key="k2")
    now[0] += 61
    with pytest.raises(OutcomeUnknownError):  # past it: dead-lettered for a person
        service.send_transactional(EMAIL, idempotency_key="k2")
    assert control.requests("send_email") == []
    record = store.get("send_email:k2")
    assert record is not None and record.status is Status.UNKNOWN
    assert guard.approve_resend("send_email:k2")
    service.send_transactional(EMAIL, idempotency_key="k2")
    assert len(control.requests("send_email")) == 1


def test_a_reused_key_with_different_content_is_refused(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    service = service_with(track, app, IdempotencyGuard(store))
    service.send_transactional(EMAIL, idempotency_key="k3")
    with pytest.raises(IdempotencyKeyReusedError):
        service.send_transactional(EMAIL.model_copy(update={"to": "x@example.com"}), idempotency_key="k3")
    assert len(control.requests("send_email")) == 1


def test_records_carry_an_expiry_for_the_ttl_policy(store: IdempotencyStore) -> None:
    now = 2_000_000.0
    guard = IdempotencyGuard(store, lease_s=30, ttl_s=3600, clock=lambda: now)
    guard.run("op:k4", {"a": 1}, lambda: {"delivery_id": "d1"})
    record = store.get("op:k4")
    assert record is not None
    assert record.expires_at == pytest.approx(now + 3600)
    assert record.result == {"delivery_id": "d1"}


def test_an_expired_completed_record_counts_as_absent(store: IdempotencyStore) -> None:
    """Until the TTL policy deletes it, the guard itself ignores an expired record."""
    now = [3_000_000.0]
    guard = IdempotencyGuard(store, ttl_s=10, clock=lambda: now[0])
    calls: list[int] = []
    action: Callable[[], dict] = lambda: (calls.append(1), {"n": len(calls)})[1]  # noqa: E731
    guard.run("op:k5", {"a": 1}, action)
    now[0] += 11
    outcome = guard.run("op:k5", {"a": 1}, action)
    assert not outcome.replayed and calls == [1, 1]


def test_broadcast_triggers_are_guarded_too(
    track: TrackClient, app: AppClient, control: SandboxControl, store: IdempotencyStore
) -> None:
    from customerio_gcp.customerio.app import BroadcastTrigger

    service = service_with(track, app, IdempotencyGuard(store))
    trigger = BroadcastTrigger(broadcast_id=3, ids=["1", "2"])
    assert service.trigger_broadcast(trigger, idempotency_key="launch") == service.trigger_broadcast(
        trigger, idempotency_key="launch"
    )
    assert len(control.triggers()) == 1


def test_firestore_create_race_has_one_winner(firestore_client, unique: str) -> None:
    store = FirestoreStore(firestore_client, f"race-{unique}")
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def create(i: int) -> None:
        barrier.wait()
        record = IdempotencyRecord("k", Status.IN_PROGRESS, "h", f"t{i}", time.time() + 60, time.time() + 600)
        wins.append(store.create(record))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_only_the_holder_may_replace_or_delete(store: IdempotencyStore) -> None:
    """The token contract every store keeps: with it broken, two workers could both own a lease
    (or one could release the other's record), and a send could go out twice."""
    record = IdempotencyRecord("op:tok", Status.IN_PROGRESS, "h", "holder", time.time() + 60, time.time() + 600)
    assert store.create(record)
    assert not store.create(record)
    intruder = record.completed({"delivery_id": "x"})
    assert not store.replace(intruder, expected_token="someone-else")
    assert not store.delete("op:tok", expected_token="someone-else")
    kept = store.get("op:tok")
    assert kept is not None and kept.status is Status.IN_PROGRESS and kept.token == "holder"
    assert store.replace(intruder, expected_token="holder")
    after = store.get("op:tok")
    assert after is not None and after.status is Status.COMPLETED
    assert not store.delete("op:tok", expected_token="someone-else")
    assert store.delete("op:tok", expected_token="holder")
    assert store.get("op:tok") is None
    assert not store.replace(intruder, expected_token="holder")  # nothing to replace any more
    assert not store.delete("op:tok", expected_token="holder")


def test_a_stored_record_does_not_hold_the_key_in_plain_text(firestore_client, unique: str) -> None:
    """Keys may hold an email; documents are found by the key's hash and never store it."""
    store = FirestoreStore(firestore_client, f"plain-{unique}")
    key = "send_email:ada@example.com"
    store.create(IdempotencyRecord(key, Status.IN_PROGRESS, "h", "t", time.time() + 60, time.time() + 600))
    docs = [d.to_dict() for d in firestore_client.collection(f"plain-{unique}").stream()]
    assert len(docs) == 1 and "ada@example.com" not in repr(docs)
    assert store.get(key) is not None
