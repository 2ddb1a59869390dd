"""No stranded messages under sustained faults (issue 12 §4): Customer.io (the sandbox) answers
40% 503 and 10% 429 for 60 s while a few hundred messages cross the three topics. Under the
emulator's own push loop such a run left messages neither delivered nor dead-lettered; with the
pusher every message must end delivered exactly once or in its dead-letter topic — and which of
the two is counted, per message id:

- with the deployed budget (5 attempts) a few messages may exhaust their attempts, and messages
  scripted to fail for ever must: both land in the dead-letter topic, forwarded after the 5th
  attempt, never delivered;
- with a budget larger than the faults can use up, no message may be dead-lettered at all.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from customerio_gcp_local.stack import LocalStack

from customerio_gcp.pipeline import load as load_pipeline
from tests.conftest import local_stack
from tests.reliability.ledger import RETRIES_EXHAUSTED, Ledger, reason

FAULTS = {"rate_5xx": 0.4, "status_5xx": 503, "rate_429": 0.1, "retry_after": 1, "seed": 12}
HOLD_S = 60
MESSAGES = int(os.environ.get("SUSTAINED_FAULT_MESSAGES", "300"))
VERBOSE = bool(os.environ.get("SOAK_VERBOSE"))


def faulty_stack(pubsub: str, firestore: str, *, attempts: int) -> LocalStack:
    """A stack of its own: Customer.io timeouts as deployed, `attempts` deliveries per message."""
    config = load_pipeline().for_local_run()
    config = dataclasses.replace(config, delivery=dataclasses.replace(config.delivery, max_delivery_attempts=attempts))
    return local_stack("faults-", pubsub, firestore, with_webhook=False, config=config)


@pytest.fixture(scope="module")
def deployed_budget(pubsub_emulator: str, firestore_emulator: str) -> Iterator[LocalStack]:
    # The attempts local runs deploy (pipeline.json's local_overrides); the cloud's 100 attempts
    # with backoff up to 600 s (about 16 h) cannot play out inside a test.
    with faulty_stack(
        pubsub_emulator, firestore_emulator, attempts=load_pipeline().for_local_run().delivery.max_delivery_attempts
    ) as s:
        yield s


@pytest.fixture(scope="module")
def large_budget(pubsub_emulator: str, firestore_emulator: str) -> Iterator[LocalStack]:
    with faulty_stack(pubsub_emulator, firestore_emulator, attempts=25) as stack:
        yield stack


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_every_message_is_delivered_once_or_dead_lettered_under_60s_of_503s_and_429s(
    deployed_budget: LocalStack,
) -> None:
    stack = deployed_budget
    attempts = stack.config.delivery.max_delivery_attempts
    ledger = Ledger(stack, uuid.uuid4().hex[:6])
    # A few people Customer.io refuses for the whole run (503, transient each time): their
    # messages must use up their attempts and be dead-lettered by the subscription's policy.
    # Their identifies and events are coalesced: each Track request carrying one is refused
    # whole, so whatever shares it is retried too (and must still be delivered in the end).
    doomed = ledger.make(6, prefix="doomed", kinds=("identify", "track"))
    doomed_faults = [{"status": 503, "count": 10**6, "identifier": item.who} for item in doomed]
    stack.control.set_faults({**FAULTS, "scripted": doomed_faults})
    started = time.monotonic()
    ledger.publish(doomed)
    waves = 10
    for wave in range(waves):  # spread over the first 50 s of the faults
        ledger.publish(ledger.make(MESSAGES // waves, start=wave * (MESSAGES // waves)))
        time.sleep(max(0.0, started + (wave + 1) * (HOLD_S - 10) / waves - time.monotonic()))
    time.sleep(max(0.0, started + HOLD_S - time.monotonic()))
    stack.control.set_faults({"scripted": doomed_faults})  # the random faults end; the doomed stay refused
    accounting = ledger.wait_settled(timeout=120, verbose=VERBOSE)
    stack.control.set_faults({})

    statuses = {str(k): v for k, v in sorted(stack.control.summary()["accepted_by_operation"].items())}
    pushed = {kind: dict(stack.pusher(kind).counts) for kind in stack.topology}
    print(f"\n{len(ledger.items)} messages, Customer.io answering 40% 503 + 10% 429 for {HOLD_S} s "
          f"(settled {time.monotonic() - started:.0f} s after the first publish); accepted: {statuses}")  # fmt: skip
    print(f"  pushes: {pushed}")
    print(accounting.report())

    assert accounting.lost == [], accounting.report()  # every message delivered or dead-lettered
    assert accounting.duplicated_sends == []  # no transactional send twice
    assert all(o.applied == 1 for o in accounting.outcomes if o.item.kind == "track" and o.delivered)
    assert accounting.strays == 0
    # Every fault was a refusal: nothing was both applied and dead-lettered, nothing dead-lettered twice.
    assert accounting.where(lambda o: o.delivered and o.dead_lettered) == []
    assert all(len(o.letters) <= 1 for o in accounting.outcomes)
    # Only exhausted retries put messages in the dead-letter topics, after exactly `attempts`.
    letters = [letter for o in accounting.dead_lettered for letter in o.letters]
    assert {reason(letter) for letter in letters} <= {RETRIES_EXHAUSTED}
    assert {letter.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] for letter in letters} <= {str(attempts)}
    # The doomed are there, not delivered. Of the rest, one delivery fails with 0.5² = 25% (two
    # client attempts), all five with 0.1%: a handful at most, never a share of the workload —
    # except the doomed's neighbours: a message whose every Track request also carried a doomed
    # person's operation was refused with it each time (coalesced, a request fails whole; they
    # fail together, so they are redelivered together). Those are counted apart, and each must
    # really have had no request of its own.
    doomed_people = {item.who for item in doomed}
    assert {o.item.who for o in accounting.dead_lettered} >= doomed_people
    others = [o for o in accounting.dead_lettered if o.item.who not in doomed_people]
    requests = stack.control.requests()

    def only_with_the_doomed(who: str) -> bool:
        carrying = [r for r in requests if who in r["people"]]
        return bool(carrying) and all(doomed_people & set(r["people"]) for r in carrying)

    neighbours = [o for o in others if only_with_the_doomed(o.item.who)]
    print(f"  dead-lettered beside the doomed only (their neighbours in every request): {len(neighbours)}")
    own = [o for o in others if o not in neighbours]
    assert len(own) <= max(3, MESSAGES // 100), accounting.report()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_with_a_large_enough_budget_transient_faults_dead_letter_nothing(large_budget: LocalStack) -> None:
    stack = large_budget
    ledger = Ledger(stack, uuid.uuid4().hex[:6])
    stack.control.set_faults(FAULTS)
    started = time.monotonic()
    hold = 20  # ~8 attempts at the most at 1-3 s backoff: well inside the budget of 25
    for wave in range(4):
        ledger.publish(ledger.make(40, start=wave * 40))
        time.sleep(max(0.0, started + (wave + 1) * hold / 5 - time.monotonic()))
    time.sleep(max(0.0, started + hold - time.monotonic()))
    stack.control.set_faults({})
    accounting = ledger.wait_settled(timeout=90, verbose=VERBOSE)
    print(f"\n{len(ledger.items)} messages, 40% 503 + 10% 429 for {hold} s, budget of "
          f"{stack.config.delivery.max_delivery_attempts} attempts:")  # fmt: skip
    print(f"  pushes: { {kind: dict(stack.pusher(kind).counts) for kind in stack.topology} }")
    print(accounting.report())

    assert accounting.lost == [], accounting.report()
    assert accounting.dead_lettered == [], accounting.report()  # delivered, not dead-lettered
    assert accounting.strays == 0
    assert accounting.duplicated_sends == []
    assert sum(stack.pusher(kind).counts["failed"] for kind in stack.topology) > 0  # the faults did bite


def test_restarted_functions_lose_nothing(large_budget: LocalStack) -> None:
    """The emulator's push loop could stop for good after the endpoint's process restarted; the
    pusher counts each refused connection as a failed attempt and carries on. (The large budget:
    a restart takes 3-7 s here, which the deployed 5 attempts at 1-3 s backoff barely cover.)"""
    stack = large_budget
    ledger = Ledger(stack, uuid.uuid4().hex[:6])
    before = {kind: stack.pusher(kind).counts["failed"] for kind in stack.topology}
    restarting = threading.Event()

    def publish_while_restarting() -> None:
        wave = 0
        while not restarting.is_set() or wave < 4:
            ledger.publish(ledger.make(3, start=wave * 3, prefix="restart"))
            wave += 1
            time.sleep(0.5)

    publishing = threading.Thread(target=publish_while_restarting)
    publishing.start()
    try:
        for kind in ("identify", "track", "transactional"):
            stack.restart_function(kind)  # stopped, then a new process on the same port
    finally:
        restarting.set()
        publishing.join()
    accounting = ledger.wait_settled(timeout=90)
    failed = {kind: stack.pusher(kind).counts["failed"] - before[kind] for kind in before}
    print(f"\nfunctions restarted one after the other while {len(ledger.items)} messages were pushed:")
    print(f"  failed pushes (refused connections): {failed}")
    print(accounting.report())

    assert all(failed.values()), failed  # every function was down while messages were pushed to it
    assert accounting.lost == [], accounting.report()
    assert accounting.dead_lettered == [], accounting.report()
    assert accounting.duplicated_sends == []
