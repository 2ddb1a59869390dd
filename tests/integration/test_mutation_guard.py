"""The send-once guard and its stores: cases mutation testing (`make mutate`) showed untested.

The guard runs on the real in-memory store; where a case needs another process to act between
two of the guard's calls (a record released or taken over under it) or the store to fail, a
subclass of that store does exactly that and no more. The Firestore cases run on the emulator.
The reasons and log lines are pinned because they are what a person acts on: a reason becomes
the dead letter's `dlq_reason`, and the log lines say which write of a send's outcome was lost.
"""

from __future__ import annotations

import io
import json
import os
import time
from contextlib import nullcontext
from typing import Any

import pytest

from customerio_gcp.customerio import ConnectionFailedError, ServerError
from customerio_gcp.firestore import document_id
from customerio_gcp.idempotency import (
    IdempotencyGuard,
    IdempotencyKeyReusedError,
    IdempotencyRecord,
    InMemoryStore,
    OutcomeUnknownError,
    SendInProgressError,
    Status,
)
from customerio_gcp.idempotency.firestore_store import FirestoreStore
from customerio_gcp.ids import content_hash

NOW = 5_000_000.0
PAYLOAD = {"to": "ada@example.com"}
HASH = content_hash(PAYLOAD)
SENT = {"delivery_id": "d-1"}


def guard(store: InMemoryStore, now: float = NOW, **options: Any) -> IdempotencyGuard:
    return IdempotencyGuard(store, clock=lambda: now, **options)


def held(key: str, status: Status = Status.IN_PROGRESS, *, lease: float = NOW + 60, token: str = "other"):
    return IdempotencyRecord(key, status, HASH, token, lease, NOW + 3600)


def reason_of(caught: pytest.ExceptionInfo[Any]) -> str:
    return str(caught.value.reason)


def idempotency_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    keep = ("severity", "message", "metric", "outcome", "step", "error_class")
    return [{k: line[k] for k in keep if k in line} for line in parsed if line.get("metric") == "idempotency"]


# --- outcomes, tokens, defaults -------------------------------------------------------------------


def test_a_send_and_its_replay_say_which_they_are() -> None:
    store = InMemoryStore()
    first = guard(store).run("k", PAYLOAD, lambda: SENT)
    again = guard(store).run("k", PAYLOAD, lambda: pytest.fail("a completed send ran again"))
    assert (first.result, first.replayed) == (SENT, False) and first.replayed is False
    assert (again.result, again.replayed) == (SENT, True) and again.replayed is True


def test_the_outcome_record_keeps_the_token_of_the_attempt_that_held_it() -> None:
    """The token names the attempt; each attempt has its own, and its outcome record keeps it."""
    store = InMemoryStore()
    tokens: dict[str, str] = {}

    def send(key: str) -> dict[str, Any]:
        record = store.get(key)
        assert record is not None and record.status is Status.IN_PROGRESS
        tokens[key] = record.token
        if key == "lost":
            raise ServerError("answer lost", status=500, maybe_applied=True)
        return SENT

    guard(store).run("sent", PAYLOAD, lambda: send("sent"))
    with pytest.raises(OutcomeUnknownError):
        guard(store).run("lost", PAYLOAD, lambda: send("lost"))
    assert len(tokens["sent"]) == 32 and tokens["sent"] != tokens["lost"]
    completed, unknown = store.get("sent"), store.get("lost")
    assert completed is not None and (completed.status, completed.token) == (Status.COMPLETED, tokens["sent"])
    assert unknown is not None and (unknown.status, unknown.token) == (Status.UNKNOWN, tokens["lost"])


def test_the_default_lease_is_two_minutes() -> None:
    store = InMemoryStore()
    seen: list[IdempotencyRecord | None] = []
    guard(store).run("k", PAYLOAD, lambda: (seen.append(store.get("k")), SENT)[1])
    assert seen[0] is not None and seen[0].lease_expires_at == NOW + 120


# --- reasons ------------------------------------------------------------------------------------


def test_an_ambiguous_failure_names_its_cause_and_the_way_out() -> None:
    with pytest.raises(OutcomeUnknownError) as caught:
        guard(InMemoryStore()).run("k", PAYLOAD, lambda: (_ for _ in ()).throw(TimeoutError("read")))
    assert reason_of(caught) == (
        "Customer.io may already have sent this (unexpected error); not retried automatically to avoid a "
        "duplicate: check the delivery in Customer.io, then `customerio-gcp dlq replay --resend-unknown` to "
        "send it anyway"
    )


@pytest.mark.parametrize(
    ("existing", "error", "reason"),
    [
        (held("k", Status.UNKNOWN), OutcomeUnknownError, "an earlier attempt's outcome is unknown"),
        (held("k", lease=NOW), OutcomeUnknownError,  # the lease ends at NOW: it has run out
         "an earlier attempt did not record its outcome before its lease ran out"),
        (held("k", lease=NOW + 0.001), SendInProgressError, "another attempt holds this idempotency key"),
    ],
)  # fmt: skip
def test_what_an_earlier_attempt_left_decides_and_says_why(existing, error, reason) -> None:
    store = InMemoryStore()
    assert store.create(existing)
    with pytest.raises(error) as caught:
        guard(store).run("k", PAYLOAD, lambda: pytest.fail("sent despite an earlier attempt"))
    if error is OutcomeUnknownError:
        reason = f"Customer.io may already have sent this ({reason}); not retried automatically" + (
            " to avoid a duplicate: check the delivery in Customer.io, then"
            " `customerio-gcp dlq replay --resend-unknown` to send it anyway"
        )
    assert reason_of(caught) == reason


def test_a_reused_key_says_so() -> None:
    store = InMemoryStore()
    guard(store).run("k", PAYLOAD, lambda: SENT)
    with pytest.raises(IdempotencyKeyReusedError) as caught:
        guard(store).run("k", {"to": "grace@example.com"}, lambda: SENT)
    assert reason_of(caught) == "idempotency key reused with a different payload"


def test_a_record_at_the_end_of_its_retention_counts_as_absent() -> None:
    store = InMemoryStore()
    assert store.create(IdempotencyRecord("k", Status.COMPLETED, HASH, "old", NOW - 10, NOW, {"old": True}))
    outcome = guard(store).run("k", PAYLOAD, lambda: SENT)
    assert (outcome.result, outcome.replayed) == (SENT, False)


# --- approve_resend -----------------------------------------------------------------------------


def test_approving_nothing_is_false_and_a_lease_that_just_ran_out_can_be_approved() -> None:
    store = InMemoryStore()
    assert guard(store).approve_resend("absent") is False
    assert store.create(held("stale", lease=NOW))  # ran out exactly now
    assert store.create(held("live", lease=NOW + 1))
    assert guard(store).approve_resend("stale") is True
    assert guard(store).approve_resend("live") is False
    stale, live = store.get("stale"), store.get("live")
    assert stale is not None and stale.status is Status.RESEND_APPROVED
    assert live is not None and live.status is Status.IN_PROGRESS


# --- other processes acting between the guard's calls --------------------------------------------


class ReleasedUnderUs(InMemoryStore):
    """Another attempt holds the record at each of our first `times` creates and releases it
    before we read it: our create fails, our get finds nothing."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times
        self.creates = 0

    def create(self, record: IdempotencyRecord) -> bool:
        self.creates += 1
        return False if self.creates <= self.times else super().create(record)


def test_a_record_released_between_create_and_get_is_created_again() -> None:
    store = ReleasedUnderUs(times=1)
    assert guard(store).run("k", PAYLOAD, lambda: SENT).result == SENT
    assert store.creates == 2


def test_a_record_that_keeps_changing_is_retried_three_times_then_left_to_pub_sub() -> None:
    store = ReleasedUnderUs(times=10)
    with pytest.raises(SendInProgressError) as caught:
        guard(store).run("k", PAYLOAD, lambda: pytest.fail("sent without holding the record"))
    assert store.creates == 3
    assert reason_of(caught) == "idempotency record changed under us; retry"


class TakenOverFirst(InMemoryStore):
    """Another attempt takes the record over (its own token, a fresh lease) just before our
    replace of it, so our replace finds a token it did not expect."""

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        current = self.get(record.key)
        if current is not None and current.token == "before":
            super().replace(held(record.key, lease=NOW + 60, token="winner"), expected_token="before")
        return super().replace(record, expected_token=expected_token)


@pytest.mark.parametrize(
    "existing",
    [
        IdempotencyRecord("k", Status.COMPLETED, HASH, "before", NOW - 10, NOW - 1),  # past its retention
        held("k", Status.RESEND_APPROVED, token="before"),
    ],
)
def test_losing_the_race_for_a_record_we_may_take_means_the_winner_holds_it(existing) -> None:
    store = TakenOverFirst()
    assert store.create(existing)
    with pytest.raises(SendInProgressError) as caught:
        guard(store).run("k", PAYLOAD, lambda: pytest.fail("sent while another attempt holds the record"))
    assert reason_of(caught) == "another attempt holds this idempotency key"


# --- writes of the outcome: retried, logged by step ------------------------------------------------


class Unavailable(InMemoryStore):
    """A store whose replace and delete fail `failures` times (the backend unavailable), or that
    answers that another attempt holds the record (`lost=True`)."""

    def __init__(self, failures: int = 0, *, lost: bool = False) -> None:
        super().__init__()
        self.failures = failures
        self.lost = lost

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unavailable")

    def replace(self, record: IdempotencyRecord, *, expected_token: str) -> bool:
        self._maybe_fail()
        return False if self.lost else super().replace(record, expected_token=expected_token)

    def delete(self, key: str, *, expected_token: str) -> bool:
        self._maybe_fail()
        return False if self.lost else super().delete(key, expected_token=expected_token)


def write_failed(step: str) -> dict[str, str]:
    return {"severity": "ERROR", "message": "could not write the idempotency record", "metric": "idempotency",
            "outcome": "write_failed", "step": step, "error_class": "ConnectionError"}  # fmt: skip


def lost_lease(step: str) -> dict[str, str]:
    return {"severity": "ERROR", "message": "idempotency record held by another attempt", "metric": "idempotency",
            "outcome": "lost_lease", "step": step}  # fmt: skip


def test_a_write_is_retried_with_backoff_and_a_success_logs_nothing(lines) -> None:
    store, pauses = Unavailable(failures=2), []
    outcome = guard(store, pause=pauses.append).run("k", PAYLOAD, lambda: SENT)
    assert outcome.result == SENT and pauses == [0.2, 0.4]
    record = store.get("k")
    assert record is not None and record.status is Status.COMPLETED
    assert idempotency_lines(lines) == []


def test_the_default_pause_is_a_real_sleep() -> None:
    started = time.monotonic()
    guard(Unavailable(failures=1)).run("k", PAYLOAD, lambda: SENT)
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("failure", "step", "error"),
    [
        (None, "complete", None),
        (ServerError("maybe sent", status=500, maybe_applied=True), "mark_unknown", OutcomeUnknownError),
        (ConnectionFailedError("never sent"), "release", ConnectionFailedError),
    ],
)
def test_a_write_that_never_lands_is_logged_with_its_step(lines, failure, step, error) -> None:
    store, pauses = Unavailable(failures=3), []

    def send() -> dict[str, Any]:
        if failure is not None:
            raise failure
        return SENT

    if error is None:
        assert guard(store, pause=pauses.append).run("k", PAYLOAD, send).result == SENT
    else:
        with pytest.raises(error):
            guard(store, pause=pauses.append).run("k", PAYLOAD, send)
    assert pauses == [0.2, 0.4]  # three attempts, no pause after the last
    assert idempotency_lines(lines) == [write_failed(step)]
    record = store.get("k")
    assert record is not None and record.status is Status.IN_PROGRESS  # left for a person, as UNKNOWN


@pytest.mark.parametrize(
    ("failure", "step", "error"),
    [(None, "complete", None),
     (ServerError("maybe sent", status=500, maybe_applied=True), "mark_unknown", OutcomeUnknownError),
     (ConnectionFailedError("never sent"), "release", ConnectionFailedError)],
)  # fmt: skip
def test_a_write_refused_for_the_token_is_logged_as_a_lost_lease(lines, failure, step, error) -> None:
    def send() -> dict[str, Any]:
        if failure is not None:
            raise failure
        return SENT

    with pytest.raises(error) if error is not None else nullcontext():
        guard(Unavailable(lost=True)).run("k", PAYLOAD, send)
    assert idempotency_lines(lines) == [lost_lease(step)]


def test_an_expired_lease_whose_unknown_mark_fails_is_logged(lines) -> None:
    store = Unavailable(failures=3)
    assert store.create(held("k", lease=NOW - 1))
    with pytest.raises(OutcomeUnknownError):
        guard(store, pause=lambda _s: None).run("k", PAYLOAD, lambda: SENT)
    assert idempotency_lines(lines) == [write_failed("mark_unknown")]


def test_a_resend_an_operator_approved_is_logged(lines) -> None:
    store = InMemoryStore()
    assert store.create(held("k", Status.RESEND_APPROVED))
    assert guard(store).run("k", PAYLOAD, lambda: SENT).result == SENT
    assert idempotency_lines(lines) == [{"severity": "WARNING", "message": "resending, as an operator approved",
                                         "metric": "idempotency", "outcome": "resend_approved"}]  # fmt: skip


# --- FirestoreStore -------------------------------------------------------------------------------


def test_firestore_records_go_to_the_collection_terraform_sets_the_ttl_policy_on(firestore_client, unique) -> None:
    key = f"op:{unique}"
    store = FirestoreStore(firestore_client)  # the default collection: terraform/main.tf's
    assert store.create(held(key))
    document = firestore_client.collection("customerio_idempotency").document(document_id(key))
    try:
        assert document.get().exists
    finally:
        document.delete()


def test_firestore_times_are_utc_whatever_the_process_time_zone(firestore_client, unique) -> None:
    store = FirestoreStore(firestore_client, f"tz-{unique}")
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        record = IdempotencyRecord("k", Status.IN_PROGRESS, HASH, "t", 1_800_000_000.0, 1_800_086_400.0)
        assert store.create(record)
        stored = store.get("k")
        raw = firestore_client.collection(f"tz-{unique}").document(document_id("k")).get().to_dict()
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()
    assert stored is not None
    assert (stored.lease_expires_at, stored.expires_at) == (1_800_000_000.0, 1_800_086_400.0)
    assert raw["expires_at"].timestamp() == 1_800_086_400.0
