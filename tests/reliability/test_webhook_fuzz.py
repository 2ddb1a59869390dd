"""webhook-ingest under thousands of generated requests (WEBHOOK_FUZZ_EXAMPLES, default 1500):
never a 5xx, and never a row for an unsigned, forged or stale request."""

from __future__ import annotations

import json
import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.signature import signed_headers
from customerio_gcp.webhooks.sink import BigQuerySink, ensure_tables
from tests.conftest import PROJECT

EXAMPLES = int(os.environ.get("WEBHOOK_FUZZ_EXAMPLES", "1500"))
KEY = "fuzz-signing-key"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {"event_id": st.text(min_size=1, max_size=20), "object_type": st.sampled_from(["email", "sms", "push", "x"]),
     "metric": st.sampled_from(["sent", "opened", "bounced", "new"]), "timestamp": st.integers(0, 2**33)},
    optional={"data": json_values},
)  # fmt: skip
bodies = (
    st.binary(max_size=400)
    | json_values.map(lambda v: json.dumps(v).encode())
    | event_like.map(lambda e: json.dumps(e).encode())
)


def count_rows(bigquery, dataset: str) -> int:
    return next(iter(bigquery.query(f"SELECT COUNT(*) AS n FROM `{PROJECT}.{dataset}.events`").result()))["n"]


def test_unsigned_forged_and_stale_requests_never_5xx_and_never_write(
    bigquery, bigquery_emulator: str, unique: str
) -> None:
    dataset = f"fuzz_{unique}"
    ensure_tables(bigquery, PROJECT, dataset)
    handler = WebhookHandler(lambda _stale: [KEY], BigQuerySink(PROJECT, dataset, endpoint=bigquery_emulator))
    statuses: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        method=st.sampled_from(["POST", "GET", "PUT", "DELETE", "post"]),
        headers=st.dictionaries(
            st.sampled_from(["X-CIO-Timestamp", "X-CIO-Signature", "Content-Type"]), st.text(max_size=80)
        ),
        body=bodies,
        how=st.sampled_from(["unsigned", "forged", "stale", "future", "garbage"]),
    )
    def request(method: str, headers: dict[str, str], body: bytes, how: str) -> None:
        now = int(time.time())
        if how == "forged":
            headers = signed_headers(body, "not-the-key", now)
        elif how == "stale":
            headers = signed_headers(body, KEY, now - 301)
        elif how == "future":
            headers = signed_headers(body, KEY, now + 301)
        elif how == "unsigned":
            headers = {}
        response = handler.handle(method, headers, body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status in (401, 405, 413), response

    request()
    print(f"\nwebhook fuzz: {sum(statuses.values())} requests, answers {dict(sorted(statuses.items()))}")
    assert count_rows(bigquery, dataset) == 0


def test_signed_arbitrary_bodies_never_5xx(bigquery, bigquery_emulator: str, unique: str) -> None:
    dataset = f"fuzz_signed_{unique}"
    ensure_tables(bigquery, PROJECT, dataset)
    handler = WebhookHandler(lambda _stale: [KEY], BigQuerySink(PROJECT, dataset, endpoint=bigquery_emulator))
    statuses: dict[int, int] = {}

    @settings(
        max_examples=max(100, EXAMPLES // 5), deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(payload=json_values | event_like | st.lists(event_like, max_size=3))
    def request(payload: object) -> None:
        body = json.dumps(payload).encode()
        response = handler.handle("POST", signed_headers(body, KEY), body)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status in (200, 400), response

    request()
    print(f"\nsigned webhook fuzz: answers {dict(sorted(statuses.items()))}")
