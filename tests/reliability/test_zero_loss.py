"""Zero loss under faults: messages across the three topics while Customer.io (the sandbox)
answers 30% 5xx, 10% 429 with Retry-After and 5% too slowly, and one function's serving process is
killed mid-run (its gunicorn master starts a new one, as Cloud Run replaces a crashed instance).

Every message must end delivered exactly once (by marker, ULID or idempotency key) or in a
dead-letter topic — and the two are told apart, per message id: a dead letter is only acceptable
for a reason these faults can cause, in the share they can cause it. Identifies and events only
meet transient failures (a timeout included), so they may only run out of attempts, which takes
five failed deliveries in a row (~0.02%); a transactional send whose answer timed out may have gone
out, so it is dead-lettered as OutcomeUnknownError rather than risk a second send (~8% here). No
transactional send twice.

Size: SOAK_MESSAGES (default 2000 in `make test`/CI; `make soak` runs 20000).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter

import pytest
from customerio_gcp_local.stack import LocalStack

from tests.reliability.ledger import KINDS, RETRIES_EXHAUSTED, Ledger, reason

MESSAGES = int(os.environ.get("SOAK_MESSAGES", "2000"))


@pytest.mark.timeout(900)
def test_zero_loss_under_faults_and_a_crash(stack: LocalStack) -> None:
    control = stack.control
    control.set_faults(
        {"rate_5xx": 0.30, "rate_429": 0.10, "retry_after": 1, "slow_rate": 0.05, "slow_seconds": 1.5, "seed": 7}
    )
    attempts = stack.config.delivery.max_delivery_attempts
    ledger = Ledger(stack, uuid.uuid4().hex[:6])
    items = ledger.make(MESSAGES, prefix="soak")
    started = time.monotonic()
    half = len(items) // 2
    ledger.publish(items[:half])
    crash = threading.Thread(target=lambda: (time.sleep(2), stack.crash_function_worker("track")))
    crash.start()
    ledger.publish(items[half:])
    crash.join()

    accounting = ledger.wait_settled(timeout=600, verbose=bool(os.environ.get("SOAK_VERBOSE")))
    control.set_faults({})

    requests = Counter(str(r["status"]) for r in control.requests())
    print(f"\nzero-loss accounting: {MESSAGES} messages in {time.monotonic() - started:.0f}s, "
          "the 'track' function's worker killed mid-run")  # fmt: skip
    print(f"  Customer.io answers: {dict(sorted(requests.items()))}")
    print(accounting.report())

    assert accounting.lost == [], accounting.report()
    assert accounting.duplicated_sends == []
    # Dead letters are told apart from deliveries: each has a reason these faults can cause ...
    by_kind = {kind: [o for o in accounting.dead_lettered if o.item.kind == kind] for kind in KINDS}
    letters = {kind: [letter for o in outcomes for letter in o.letters] for kind, outcomes in by_kind.items()}
    assert {reason(m) for kind in ("identify", "track") for m in letters[kind]} <= {RETRIES_EXHAUSTED}
    assert {reason(m) for m in letters["transactional"]} <= {RETRIES_EXHAUSTED, "OutcomeUnknownError"}
    assert all(
        m.attributes.get("dlq_reason") for kind in letters for m in letters[kind] if "dlq_error_class" in m.attributes
    )
    exhausted = [m for kind in letters for m in letters[kind] if reason(m) == RETRIES_EXHAUSTED]
    assert {m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] for m in exhausted} <= {str(attempts)}
    # ... and only in the share they can cause it: a dead letter is not a delivery.
    retried_kinds = len(by_kind["identify"]) + len(by_kind["track"])
    assert retried_kinds <= max(3, MESSAGES // 100), accounting.report()
    assert len(by_kind["transactional"]) <= 0.15 * (MESSAGES / 3), accounting.report()
