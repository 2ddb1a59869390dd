"""webhook-ingest as deployed: a functions-framework HTTP process (the packaged function), signed
bytes in, Pub/Sub messages out, rows in BigQuery through the BigQuery-subscription stand-in."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from customerio_gcp.webhooks.signature import signed_headers
from tests.conftest import pull_now
from tests.e2e.conftest import Pipeline


def post(pipeline: Pipeline, body: bytes, key: str | None = None, method: str = "POST", **kw) -> httpx.Response:
    headers = signed_headers(body, key or pipeline.stack.webhook_signing_key)
    content = kw.pop("content", body)
    return httpx.request(method, pipeline.stack.webhook_url or "", content=content, headers=headers, timeout=30, **kw)


def stored(pipeline: Pipeline, event_id: str, wait: float = 0.0) -> list[dict]:
    stack = pipeline.stack
    table = f"{stack.project}.{stack.bigquery_dataset}.events"
    query = f"SELECT event_id, metric, recipient FROM `{table}` WHERE event_id = '{event_id}'"
    deadline = time.monotonic() + wait
    while True:
        found = [dict(r.items()) for r in stack.bigquery.query(query).result()]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def test_signed_events_reach_bigquery_through_pubsub(pipeline: Pipeline) -> None:
    event_id = "e2e-" + uuid.uuid4().hex
    payload = {
        "event_id": event_id, "object_type": "email", "metric": "bounced", "timestamp": int(time.time()),
        "data": {"delivery_id": "d1", "recipient": "ada@example.com", "failure_message": "550"},
    }  # fmt: skip
    # Whitespace and key order as Customer.io sent them: the signature covers these exact bytes.
    body = json.dumps(payload, indent=2).encode()
    response = post(pipeline, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "quarantined": 0}
    [row] = stored(pipeline, event_id, wait=30)
    assert row["metric"] == "bounced" and row["recipient"].startswith("sha256:")


def test_forged_wrong_method_oversized_and_unparseable_requests(pipeline: Pipeline) -> None:
    stack = pipeline.stack
    event_id = "e2e-" + uuid.uuid4().hex
    body = json.dumps(
        {"event_id": event_id, "object_type": "email", "metric": "sent", "timestamp": int(time.time())}
    ).encode()
    assert post(pipeline, body, key="forged").status_code == 401
    assert post(pipeline, body, method="GET").status_code == 405
    assert post(pipeline, b"[" + b" " * (40 * 1024 * 1024) + b"]").status_code == 413
    quarantine = stack.webhook_path("subscriptions", stack.config.webhook.quarantine_subscription)
    assert post(pipeline, b"{not json").json() == {"accepted": 0, "quarantined": 1}
    assert [m.data for m in pull_now(quarantine)] == [b"{not json"]
    assert stored(pipeline, event_id) == []


def test_a_chunked_body_is_read_with_a_bounded_buffer(pipeline: Pipeline) -> None:
    """No Content-Length: the function reads the stream and stops past 32 MiB."""

    def endless():
        chunk = b" " * (1024 * 1024)
        for _ in range(40):
            yield chunk

    response = post(pipeline, b"", content=endless())
    assert response.status_code == 413  # the size is checked while reading, before the signature
