"""One function instance serves many requests at once (Cloud Run concurrency), safely: a shared
HTTP pool, thread-safe caches, correlation in context variables rather than globals.

As deployed, the concurrent pushes share Track v2 batch requests (coalescing); with
TRACK_COALESCE=false (still supported) each goes as its own v1 request, in parallel on the shared
pool. Both modes are checked."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from customerio_gcp_local.push import push_body
from ulid import ULID

from tests.e2e.conftest import Pipeline

MESSAGES = 48
CLIENTS = 16
THREADS = 8  # the function's gunicorn threads (LocalStack sets THREADS=8), as Terraform's concurrency


def max_overlap(intervals: list[tuple[float, float, int]]) -> int:
    """The most weight (requests, or the operations they carry) on the wire at one moment."""
    edges = sorted(
        [(start, weight) for start, _, weight in intervals] + [(end, -weight) for _, end, weight in intervals]
    )
    current = best = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


@pytest.mark.parametrize("mode", ["coalesced", "one request per message"])
def test_one_instance_handles_concurrent_pushes_once_and_correctly(mode: str, request: pytest.FixtureRequest) -> None:
    pipeline: Pipeline = request.getfixturevalue("pipeline" if mode == "coalesced" else "uncoalesced")
    function = pipeline.stack.functions["track"]
    # Customer.io answers take 300 ms here, so requests pile up inside the one process.
    pipeline.control.set_faults({"slow_rate": 1.0, "slow_seconds": 0.3})
    run = str(time.time_ns())
    ours = f"conc-{run}-"
    messages = []
    for i in range(MESSAGES):
        event_id = str(ULID())
        data = {"op": "event", "identifiers": {"id": f"{ours}{i}"}, "name": f"n{i}", "data": {"i": i},
                "timestamp": 1_700_000_000 + i, "event_id": event_id}  # fmt: skip
        messages.append((f"m-{run}-{i}", event_id, data))
    try:
        with ThreadPoolExecutor(CLIENTS) as pool, httpx.Client(timeout=60) as http:
            statuses = list(
                pool.map(
                    lambda m: (
                        http.post(function.url, json=push_body(json.dumps(m[2]).encode(), message_id=m[0])).status_code
                    ),
                    messages,
                )
            )
    finally:
        pipeline.control.set_faults({})
    assert statuses == [200] * MESSAGES

    events = {e["customer"]: e for e in pipeline.control.events() if e["customer"].startswith(ours)}
    assert len(events) == MESSAGES  # every message once
    for _message_id, event_id, data in messages:
        event = events[data["identifiers"]["id"]]
        assert (event["id"], event["name"], event["data"]) == (event_id, data["name"], data["data"])  # and correctly

    if mode == "coalesced":
        # Each push waits for its own operation, so operations sharing a request were pushes the
        # process served at once: all its threads' operations were on the wire together.
        batches = [r for r in pipeline.control.requests("v2_batch") if any(p.startswith(ours) for p in r["people"])]
        carried = [sum(1 for p in r["people"] if p.startswith(ours)) for r in batches]
        assert sum(carried) == MESSAGES and all(r["status"] == 200 for r in batches)  # each operation sent once
        assert len(batches) < MESSAGES  # shared requests
        assert not [r for r in pipeline.control.requests("event") if ours in r["path"]]  # and no v1 one
        assert max_overlap([(r["started"], r["at"], n) for r, n in zip(batches, carried, strict=True)]) >= THREADS
    else:
        requests = [r for r in pipeline.control.requests("event") if ours in r["path"]]
        assert len(requests) == MESSAGES
        assert max_overlap([(r["started"], r["at"], 1) for r in requests]) >= THREADS

    # Each log line names the message it belongs to: no correlation leaked between threads.
    expected = {message_id: event_id for message_id, event_id, _ in messages}
    lines = [json.loads(line) for line in function.process.log_path.read_text().splitlines() if line.startswith("{")]
    operations = [line for line in lines if line.get("metric") == "operation" and line.get("message_id") in expected]
    assert len(operations) == MESSAGES
    assert all(line["event_id"] == expected[line["message_id"]] for line in operations)
