"""Coalescing in the packaged functions on the local stack: messages published together share v2
batch requests, and a batch item Customer.io refuses (a 207) is dead-lettered alone, with its
reason, while its neighbours are delivered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from customerio_gcp_local.stack import wait_until

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.messages.models import IdentifyPerson, TrackEvent
from tests.conftest import local_stack
from tests.e2e.conftest import Pipeline

COUNT = 60


@pytest.fixture(scope="module")
def coalescing(pubsub_emulator: str, firestore_emulator: str) -> Iterator[Pipeline]:
    """The stack with coalescing on, as Terraform deploys identify and track."""
    env = {"TRACK_COALESCE": "true", "CIO_TRACK_RPS_PER_INSTANCE": "50"}
    with local_stack("co", pubsub_emulator, firestore_emulator, with_webhook=False, function_env=env) as stack:
        yield Pipeline(stack)


def test_published_together_sent_together_and_a_refused_item_dead_lettered_alone(coalescing: Pipeline) -> None:
    pipeline = coalescing
    run = f"co-{time.time_ns()}"
    people = [f"{run}-{i}" for i in range(COUNT)]
    poison = people[17]
    pipeline.control.set_faults({"reject_identifiers": [poison]})
    try:
        messages = [IdentifyPerson(identifiers=Identifiers(id=p), attributes={"n": i}) for i, p in enumerate(people)]
        messages += [TrackEvent(identifiers=Identifiers(id=p), name="joined", timestamp=1_767_225_600) for p in people]
        pipeline.publisher.publish_many(messages)

        def arrived() -> bool:
            known = sum(1 for p in people if pipeline.control.person(p) is not None)
            return known == COUNT - 1

        assert wait_until(arrived, timeout=90)
        letters = pipeline.wait_for_dead_letters(
            "identify", lambda m: m.attributes.get("dlq_error_class") == "BatchItemError", 1, timeout=30
        )
    finally:
        pipeline.control.set_faults({})
    assert [json.loads(m.data)["identifiers"]["id"] for m in letters] == [poison]
    assert "rejected" in letters[0].attributes["dlq_reason"]
    # the events were refused for the same person (its events are dead-lettered too), the rest stored
    assert wait_until(
        lambda: sum(1 for e in pipeline.control.events() if e["customer"].startswith(run)) == COUNT - 1, timeout=60
    )
    batches = [r["body"]["batch"] for r in pipeline.control.requests("v2_batch")]
    ours = [b for b in batches if any(op["identifiers"].get("id", "").startswith(run) for op in b)]
    items = sum(1 for b in ours for op in b if op["identifiers"].get("id", "").startswith(run))
    assert items >= 2 * COUNT and len(ours) < items  # shared requests, not one per message
