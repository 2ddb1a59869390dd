"""Coalescing against the sandbox, through the identify and track functions' own wiring: push
requests served concurrently share v2 batches, each answers for its own message (a 207 item is
dead-lettered alone), the per-instance pace keeps to Customer.io's rate limit (no 429), and the
per-person guarantees hold (unchanged identifies skipped, suppress before delete, tombstones,
deterministic event ids)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from customerio_gcp_local.push import cloud_event_data, push_body
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.delivery import DeliveryOutcome, PubSubDelivery
from customerio_gcp.delivery.push import PushedMessage
from customerio_gcp.errors import Verdict
from customerio_gcp.settings import Settings
from customerio_gcp.wiring import identify, track


class DeadLetters:
    """Stands in for the dead-letter topic: keeps what would be published."""

    topic_path = "projects/test/topics/dead-letters"

    def __init__(self) -> None:
        self.letters: list[tuple[bytes, dict[str, str]]] = []

    def publish(self, pushed: PushedMessage, attributes: dict[str, str]) -> str:
        self.letters.append((pushed.data, attributes))
        return str(len(self.letters))


@pytest.fixture
def limited() -> Iterator[Sandbox]:
    with Sandbox(rate_limits={"track_per_s": 20}) as running:
        yield running


def settings_for(sandbox: Sandbox, **changes: Any) -> Settings:
    creds = sandbox.credentials
    base = Settings.from_env(
        {
            "CIO_TRACK_URL": sandbox.url,
            "CIO_APP_URL": sandbox.url,
            "CIO_SITE_ID": creds.site_id,
            "CIO_TRACK_API_KEY": creds.track_api_key,
            "CIO_APP_API_KEY": creds.app_api_key,
            "IDEMPOTENCY_BACKEND": "memory",
            "LOG_LEVEL": "WARNING",
            "TRACK_COALESCE": "true",
        }
    )
    return replace(base, **changes)


def function(kind: str, settings: Settings, dead_letters: DeadLetters) -> PubSubDelivery:
    build = identify.build if kind == "identify" else track.build
    handler = build(settings)
    handler._dead_letter_publisher = dead_letters  # type: ignore[assignment]
    return handler


def push(message: dict[str, Any], n: int) -> Any:
    return cloud_event_data(push_body(json.dumps(message).encode(), message_id=f"m-{n}"))


def deliver_all(handler: PubSubDelivery, bodies: list[Any], threads: int = 40) -> list[Any]:
    def one(body: Any) -> Any:
        try:
            return handler(body)
        except Exception as error:  # the function would answer 500
            return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, bodies))


def batches(control: SandboxControl) -> list[list[dict[str, Any]]]:
    return [r["body"]["batch"] for r in control.requests("v2_batch")]


def test_concurrent_pushes_share_batches_and_a_207_item_is_dead_lettered_alone(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    control.set_faults({"reject_identifiers": ["u-13"]})
    dead_letters = DeadLetters()
    handler = function("identify", settings_for(sandbox, track_coalesce_linger_s=0.05), dead_letters)
    bodies = [push({"op": "identify", "identifiers": {"id": f"u-{i}"}, "attributes": {"n": i}}, i) for i in range(200)]
    outcomes = deliver_all(handler, bodies)
    assert outcomes.count(DeliveryOutcome.DELIVERED) == 199
    assert outcomes[13] is DeliveryOutcome.DEAD_LETTERED
    [(data, attributes)] = dead_letters.letters
    assert json.loads(data)["identifiers"] == {"id": "u-13"}
    assert attributes["dlq_error_class"] == "BatchItemError" and "rejected" in attributes["dlq_reason"]
    sent = batches(control)
    assert sum(len(b) for b in sent) == 200 and len(sent) <= 40  # ≥ 5 messages per request on average
    assert control.summary()["people"] == 199
    assert not control.requests("identify")  # no v1 request at all


@pytest.mark.parametrize(
    "body",
    ["<html>not JSON</html>", '{"errors": [{"batch_index": "0", "reason": "x"}]}', '{"errors": [{"reason": "x"}]}'],
)
def test_a_207_whose_refusal_cannot_be_placed_accepts_nothing(sandbox: Sandbox, control: SandboxControl,
                                                              body: str) -> None:  # fmt: skip
    """Something was refused, it cannot be told what: every message is retried, none acked."""
    control.set_faults({"scripted": [{"status": 207, "count": 1, "text": body}]})
    handler = function("identify", settings_for(sandbox), DeadLetters())
    outcomes = deliver_all(handler, [push({"op": "identify", "identifiers": {"id": "u-207"}, "attributes": {}}, 1)])
    assert outcomes != [DeliveryOutcome.DELIVERED]
    assert isinstance(outcomes[0], Exception)  # the function answers 500: Pub/Sub redelivers
    assert control.summary()["people"] == 0


def test_keeps_to_the_rate_limit_with_the_pace_and_loses_nothing(limited: Sandbox) -> None:
    control = SandboxControl(limited.url)
    handler = function(
        "track", settings_for(limited, track_rps_per_instance=20.0, track_coalesce_linger_s=0.02), DeadLetters()
    )
    message = {"op": "event", "name": "checkout", "timestamp": 1_767_225_600, "data": {"total": 1}}
    bodies = [push(message | {"identifiers": {"id": f"e-{i}"}, "event_id": f"order-{i}"}, i) for i in range(600)]
    outcomes = deliver_all(handler, bodies, threads=60)
    assert outcomes.count(DeliveryOutcome.DELIVERED) == 600
    summary = control.summary()
    assert summary["rate_limited"] == {} and summary["refused"] == 0
    assert summary["events"] == 600
    # the same messages again (Pub/Sub redelivers): the same ULIDs, so nothing new is stored
    deliver_all(handler, bodies[:50], threads=20)
    assert control.summary()["events"] == 600


def test_without_coalescing_each_message_is_its_own_v1_request(sandbox: Sandbox, control: SandboxControl) -> None:
    handler = function("identify", settings_for(sandbox, track_coalesce=False), DeadLetters())
    bodies = [push({"op": "identify", "identifiers": {"id": f"b-{i}"}, "attributes": {"n": i}}, i) for i in range(20)]
    assert deliver_all(handler, bodies) == [DeliveryOutcome.DELIVERED] * 20
    assert len(control.requests("identify")) == 20 and not control.requests("v2_batch")


def test_a_phone_identifier_is_refused_on_v1_and_goes_as_v2_when_coalesced(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    """Track v1 paths cannot address a person by phone: uncoalesced, such an event is a permanent
    error, dead-lettered at once without a request; coalesced it is a v2 operation, which takes it."""
    event = {"op": "event", "identifiers": {"phone": "+15555550100"}, "name": "x", "timestamp": 1_767_225_600}
    v1_letters = DeadLetters()
    v1 = function("track", settings_for(sandbox, track_coalesce=False), v1_letters)
    assert v1(push(event, 1)) is DeliveryOutcome.DEAD_LETTERED
    [(_, attributes)] = v1_letters.letters
    assert attributes["dlq_error_class"] == "BadRequestError" and "phone" in attributes["dlq_reason"]
    assert control.requests() == []
    coalesced = function("track", settings_for(sandbox), DeadLetters())
    assert coalesced(push(event, 2)) is DeliveryOutcome.DELIVERED
    assert [op["identifiers"] for batch in batches(control) for op in batch] == [{"phone": "+15555550100"}]
    assert [e["customer"] for e in control.events()] == ["+15555550100"]


def test_person_guarantees_hold_when_batched(sandbox: Sandbox, control: SandboxControl) -> None:
    handler = function("identify", settings_for(sandbox, track_coalesce_linger_s=0.05), DeadLetters())
    hello = {"op": "identify", "identifiers": {"id": "ada"}, "attributes": {"plan": "pro"}}
    assert handler(push(hello, 1)) is DeliveryOutcome.DELIVERED
    # unchanged, sent again all the same: a batched identify is never skipped (v2 ignores a stale
    # one with a 200, so a remembered hash could hide the next change)
    assert handler(push(hello, 2)) is DeliveryOutcome.DELIVERED
    assert sum(len(b) for b in batches(control)) == 2
    # a delete that suppresses first, among other traffic: suppress accepted, then delete
    others = [
        push({"op": "identify", "identifiers": {"id": f"o-{i}"}, "attributes": {"n": i}}, 10 + i) for i in range(30)
    ]
    delete = push({"op": "delete", "identifiers": {"id": "ada"}, "suppress": True, "timestamp": 1_767_225_700}, 99)
    outcomes = deliver_all(handler, [*others[:15], delete, *others[15:]])
    assert outcomes == [DeliveryOutcome.DELIVERED] * 31
    about_ada = [
        (n, op["action"])
        for n, batch in enumerate(batches(control))
        for op in batch
        if op["identifiers"] == {"id": "ada"}
    ]
    assert [action for _, action in about_ada] == ["identify", "identify", "suppress", "delete"]
    assert about_ada[2][0] < about_ada[3][0]  # separate requests, the suppress first
    assert control.person("ada") is None
    # an identify older than the deletion is skipped (tombstone); a newer one goes out
    older = hello | {"timestamp": 1_767_225_600}
    assert handler(push(older, 100)) is DeliveryOutcome.DELIVERED
    newer = hello | {"timestamp": 1_767_225_800}
    assert handler(push(newer, 101)) is DeliveryOutcome.DELIVERED
    sent = [op for batch in batches(control) for op in batch if op["identifiers"] == {"id": "ada"}]
    assert [op["action"] for op in sent] == ["identify", "identify", "suppress", "delete", "identify"]
    assert sent[-1]["timestamp"] == 1_767_225_800  # the message's own time travels in v2


def test_devices_and_merge_and_anonymous_events(sandbox: Sandbox, control: SandboxControl) -> None:
    identify_fn = function("identify", settings_for(sandbox), DeadLetters())
    track_fn = function("track", settings_for(sandbox), DeadLetters())
    add = {"op": "add_device", "identifiers": {"id": "d1"}, "device_id": "tok-1", "platform": "ios"}
    remove = {"op": "remove_device", "identifiers": {"id": "d1"}, "device_id": "tok-1"}
    merge = {"op": "merge", "primary": {"id": "d1"}, "secondary": {"id": "d2"}}
    hello = {"op": "identify", "identifiers": {"id": "d1"}, "attributes": {"plan": "pro"}}
    for n, message in enumerate([hello, add, remove, merge]):
        assert identify_fn(push(message, n)) is DeliveryOutcome.DELIVERED
    anonymous = {"op": "anonymous_event", "anonymous_id": "anon-1", "name": "visit", "timestamp": 1_767_225_600}
    assert track_fn(push(anonymous, 5)) is DeliveryOutcome.DELIVERED
    actions = [op["action"] for batch in batches(control) for op in batch]
    assert actions == ["identify", "add_device", "delete_device"]
    assert batches(control)[1][0]["device"] == {"token": "tok-1", "platform": "ios"}
    # their v2 forms are not confirmed: they stay one v1 request each
    assert len(control.requests("merge")) == 1 and len(control.requests("anonymous_event")) == 1


def test_dead_letter_verdict_is_permanent_for_a_batch_item() -> None:
    from customerio_gcp.customerio.errors import BatchItemFailure
    from customerio_gcp.errors import classify

    verdict = classify(BatchItemFailure(3, "invalid", "attributes", "too long").as_error())
    assert verdict == Verdict(False, False, "invalid attributes too long", "BatchItemError", 207)


def test_a_429_for_the_batch_fails_every_waiter_for_redelivery_and_dead_letters_none(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    control.set_faults({"scripted": [{"status": 429, "count": 10, "retry_after": 0, "path_contains": "/api/v2/batch"}]})
    dead_letters = DeadLetters()
    handler = function(
        "track", settings_for(sandbox, http_retry_attempts=1, track_coalesce_linger_s=0.05), dead_letters
    )
    message = {"op": "event", "name": "checkout", "timestamp": 1_767_225_600}
    bodies = [push(message | {"identifiers": {"id": f"r-{i}"}}, i) for i in range(30)]
    outcomes = deliver_all(handler, bodies, threads=30)
    assert all(type(o).__name__ == "RateLimitedError" for o in outcomes)  # each push answers 500
    assert dead_letters.letters == [] and control.summary()["events"] == 0
    assert len(control.requests("v2_batch")) < 10  # one refusal per batch, not one per message
    # Pub/Sub redelivers: now accepted, each once
    control.set_faults({})
    assert deliver_all(handler, bodies, threads=30) == [DeliveryOutcome.DELIVERED] * 30
    assert control.summary()["events"] == 30
