"""webhook-ingest as deployed: a functions-framework HTTP process, signed bytes in, rows out."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from customerio_gcp.webhooks.signature import signed_headers
from customerio_gcp.webhooks.sink import bigquery_client
from tests.e2e.conftest import Pipeline


def post(pipeline: Pipeline, body: bytes, key: str | None = None, method: str = "POST") -> httpx.Response:
    headers = signed_headers(body, key or pipeline.stack.webhook_signing_key)
    return httpx.request(method, pipeline.stack.webhook_url or "", content=body, headers=headers, timeout=10)


def stored(pipeline: Pipeline, event_id: str) -> list[dict]:
    stack = pipeline.stack
    client = bigquery_client(stack.project, stack.bigquery_endpoint)
    table = f"{stack.project}.{stack.bigquery_dataset}.events"
    query = f"SELECT event_id, metric, recipient FROM `{table}` WHERE event_id = '{event_id}'"
    found = [dict(r.items()) for r in client.query(query).result()]
    client.close()
    return found


def test_signed_events_land_in_bigquery_and_bounces_are_routed(pipeline: Pipeline) -> None:
    from google.cloud import pubsub_v1

    event_id = "e2e-" + uuid.uuid4().hex
    payload = {
        "event_id": event_id, "object_type": "email", "metric": "bounced", "timestamp": int(time.time()),
        "data": {"delivery_id": "d1", "recipient": "ada@example.com", "failure_message": "550"},
    }  # fmt: skip
    # Whitespace and key order as Customer.io sent them: the signature covers these exact bytes.
    body = json.dumps(payload, indent=2).encode()
    response = post(pipeline, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "skipped": 0, "routed": 1}
    [row] = stored(pipeline, event_id)
    assert row["metric"] == "bounced" and row["recipient"].startswith("sha256:")

    subscriber = pubsub_v1.SubscriberClient()
    subscription = pipeline.stack.webhook_events_topic.replace("/topics/", "/subscriptions/") + "-app"
    messages = subscriber.pull(request={"subscription": subscription, "max_messages": 50, "return_immediately": True})
    subscriber.close()
    routed = [m.message for m in messages.received_messages if m.message.attributes["event_id"] == event_id]
    assert [m.attributes["metric"] for m in routed] == ["bounced"]


def test_forged_wrong_method_and_oversized_requests(pipeline: Pipeline) -> None:
    event_id = "e2e-" + uuid.uuid4().hex
    body = json.dumps(
        {"event_id": event_id, "object_type": "email", "metric": "sent", "timestamp": int(time.time())}
    ).encode()
    assert post(pipeline, body, key="forged").status_code == 401
    assert post(pipeline, body, method="GET").status_code == 405
    assert post(pipeline, b"[" + b" " * 1_000_001 + b"]").status_code == 413
    assert post(pipeline, b"{not json").status_code == 400
    assert stored(pipeline, event_id) == []
